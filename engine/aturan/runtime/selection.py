"""Which ruleset version decides an order: a pin (`name@version`), else the version in force at
`request.at` of the seller's overlay (`order.seller.policy`) or of the order's platform."""

from __future__ import annotations

from datetime import datetime

from ..errors import Diagnostic, Location, SelectionError
from ..language.model import RulesetVersion
from ..language.repository import RulesetCollection
from ..suggest import did_you_mean
from .facts import FlatFacts


def parse_pin(pin: str) -> tuple[str, str | None]:
    name, _, version = pin.partition("@")
    return name, (version or None)


def selection_reason(pin: str | None, facts: FlatFacts) -> str:
    """Why `select` picks the version it picks, in one word: `pinned` (NAME@VERSION), `named`
    (a pinned NAME: its version in force at request.at), `seller_overlay` (the seller's overlay
    in force at request.at, over its platform's), `in_force` (the platform's version in force at
    request.at). Recorded by the decision log."""
    if pin:
        return "pinned" if "@" in pin else "named"
    return "seller_overlay" if facts.seller_policy else "in_force"


def _error(code: str, message: str, pointer: str = "", hint: str = "") -> SelectionError:
    return SelectionError(Diagnostic(code, message, Location(pointer=pointer), hint=hint))


def in_force(collection: RulesetCollection, name: str, at: datetime) -> RulesetVersion:
    versions = collection.by_name.get(name)
    if not versions:
        raise _error("unknown-ruleset", f'no ruleset named "{name}" is loaded',
                     hint=did_you_mean(name, collection.by_name))
    for rs in versions:
        if rs.in_force(at):
            return rs
    spans = "; ".join(f"{rs.version} from {rs.effective_from.isoformat()}"
                      + (f" until {rs.effective_until.isoformat()}" if rs.effective_until else "")
                      for rs in versions)
    raise _error("no-version-in-force",
                 f"no version of {name} is in force at {at.isoformat()} ({spans})",
                 pointer="/request/at")


def select(collection: RulesetCollection, facts: FlatFacts, pin: str | None = None
           ) -> tuple[RulesetVersion, RulesetVersion | None]:
    """(ruleset, base): `base` is the platform version under an overlay, else None."""
    if pin:
        name, version = parse_pin(pin)
        if version is None and "@" in pin:  # `tiktok_shop@` was taken as `tiktok_shop`
            raise _error("unknown-ruleset", f'ruleset pin "{pin}" has no version after "@"; '
                         "give NAME@VERSION, or NAME for its version in force",
                         hint=did_you_mean(pin, [rs.key for rs in collection.versions]))
        if version is None:
            chosen = in_force(collection, name, facts.request_at)
        else:
            found = collection.get(name, version)
            if found is None:
                known = [rs.key for rs in collection.by_name.get(name, ())]
                raise _error("unknown-ruleset", f"ruleset {pin} is not loaded"
                             + (f" (loaded: {', '.join(known)})" if known else ""),
                             hint=did_you_mean(pin, [rs.key for rs in collection.versions]))
            chosen = found
    else:
        name = facts.seller_policy or facts.platform
        pointer = "/order/seller/policy" if facts.seller_policy else "/order/platform"
        if name not in collection.by_name:
            raise _error("unknown-ruleset", f'no ruleset named "{name}" is loaded',
                         pointer=pointer, hint=did_you_mean(name, collection.by_name))
        chosen = in_force(collection, name, facts.request_at)
    if not chosen.is_overlay:
        if chosen.name != facts.platform:
            raise _error("platform-mismatch", f"ruleset {chosen.key} is for {chosen.name}, but "
                         f"the order is on {facts.platform}", pointer="/order/platform")
        return chosen, None
    platform = chosen.extends.split("@", 1)[0] if chosen.extends else ""
    if platform != facts.platform:
        raise _error("platform-mismatch", f"overlay {chosen.key} extends {chosen.extends}, but "
                     f"the order is on {facts.platform}", pointer="/order/platform")
    base = in_force(collection, platform, facts.request_at)
    if base not in collection.bases_for(chosen):
        raise _error("overlay-base-mismatch", f"overlay {chosen.key} extends {chosen.extends}, "
                     f"but {base.key} is in force at {facts.request_at.isoformat()}",
                     pointer="/request/at")
    return chosen, base
