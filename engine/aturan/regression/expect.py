"""What a case expects, compared with the decision made: only the parts a case names, each
difference a `Mismatch` that reads as one clause (`outcome: expected rejected, got approved`,
or plainer: `decided_by: rule "x" does not exist in tiktok_shop@1.0.0. Did you mean "y"?`),
its frame in the case's language. Used by `cases.run_case` for `aturan test` and pytest."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ..language.display import rupiah, show, text
from ..language.model import parse_timestamp
from ..runtime.decision import Decision
from ..runtime.evaluate import Policies
from ..suggest import did_you_mean


@dataclass(frozen=True)
class Mismatch:
    """One expected part of a decision that differs: `field` is a dotted path like refund.amount.
    `message` replaces the usual `expected …, got …` when there is something plainer to say
    (a rule that does not exist, facts that are invalid)."""

    field: str
    expected: Any
    actual: Any
    note: str = ""
    message: str = ""

    def render(self, lang: str | None = None) -> str:
        """The difference as one clause, its frame in `lang`."""
        if self.message:
            return self.message
        body = text("expected_got", lang, field=self.field, expected=show(self.expected),
                    actual=show(self.actual))
        return f"{body} ({self.note})" if self.note else body

    def __str__(self) -> str:
        return self.render()


def _list_note(expected: list[Any], actual: list[Any], lang: str | None) -> str:
    missing = [show(v) for v in expected if v not in actual]
    extra = [show(v) for v in actual if v not in expected]
    parts = ([text("missing", lang, items=", ".join(missing))] if missing else []) + (
        [text("unexpected", lang, items=", ".join(extra))] if extra else [])
    return "; ".join(parts) or text("same_items", lang)


def _refund_text(refund: dict[str, Any] | None, lang: str | None) -> Any:
    if refund is None:
        return None
    eta = refund.get("eta")
    when = (text("business_days", lang, min=eta["min_business_days"],
                 max=eta["max_business_days"], due=eta["due_by"]) if eta
            else text("no_refund_time", lang))
    return text("refund_to", lang, amount=rupiah(refund["amount"]),
                destination=refund["destination"], when=when)


def _compare_refund(want: dict[str, Any] | None, have: dict[str, Any] | None,
                    lang: str | None) -> list[Mismatch]:
    if want is None or have is None:
        if want is None and have is None:
            return []
        return [Mismatch("refund", want and show(want), _refund_text(have, lang))]
    eta = have.get("eta") or {"min_business_days": None, "max_business_days": None,
                              "due_by": None}
    flat = {"amount": have["amount"], "destination": have["destination"], **eta}
    return [Mismatch(f"refund.{key}", value, flat.get(key))
            for key, value in want.items() if flat.get(key) != value]


def _penalty(p: dict[str, Any], lang: str | None, with_points: bool = True) -> str:
    shown = f"{p['party']}:{p['code']}"
    if with_points and "points" in p:
        points = text("unpublished", lang) if p["points"] is None else p["points"]
        shown += f" ({text('points', lang, points=points)})"
    return shown


def _compare_penalties(want: list[dict[str, Any]], have: list[dict[str, Any]],
                       lang: str | None) -> list[Mismatch]:
    remaining = list(have)
    unmatched: list[dict[str, Any]] = []
    for w in want:
        hit = next((h for h in remaining if h["party"] == w["party"] and h["code"] == w["code"]
                    and ("points" not in w or h["points"] == w["points"])), None)
        if hit is None:
            unmatched.append(w)
        else:
            remaining.remove(hit)
    if not unmatched and not remaining:
        return []
    want_text = sorted(_penalty(p, lang) for p in want)
    have_text = sorted(_penalty(p, lang) for p in have)
    parts = ([text("missing", lang, items=", ".join(_penalty(p, lang) for p in unmatched))]
             if unmatched else []) + (
        [text("unexpected", lang, items=", ".join(_penalty(p, lang) for p in remaining))]
        if remaining else [])
    return [Mismatch("penalties", want_text, have_text, "; ".join(parts))]


def _unknown_rules(expect: dict[str, Any], known: Collection[str], ruleset: str,
                   lang: str | None) -> list[Mismatch]:
    """A rule a case names (`decided_by`, `rules`, `not_rules`) that the deciding version does
    not have is a typo or a stale case: say so, with "Did you mean …?", rather than show a
    difference that cannot be fixed by changing the ruleset."""
    out = []
    named = ([("decided_by", expect["decided_by"])] if "decided_by" in expect else []) + [
        (key, rule) for key in ("rules", "not_rules") for rule in expect.get(key, ())]
    for key, rule in named:
        if rule == "default" and key == "decided_by" or rule in known:
            continue
        hint = did_you_mean(rule, sorted(known))
        message = text("no_such_rule", lang, field=key, rule=rule, ruleset=ruleset)
        out.append(Mismatch(key, rule, None, message=f"{message}{'. ' + hint if hint else ''}"))
    return out


def _same_instant(want: str | None, have: str | None) -> bool:
    if want is None or have is None:
        return want is have
    try:
        return parse_timestamp(want) == parse_timestamp(have)
    except ValueError:
        return False


def compare(expect: dict[str, Any], decision: Decision, lang: str | None = None,
            known_rules: Collection[str] | None = None) -> list[Mismatch]:
    """The expected parts of `decision` that differ; parts a case does not name are ignored.
    With `known_rules` (the rule ids of the deciding version), a named rule missing from them
    is reported as such."""
    got = decision.to_dict()
    out: list[Mismatch] = []
    if "outcome" in expect and expect["outcome"] != decision.outcome:
        out.append(Mismatch("outcome", expect["outcome"], decision.outcome))
    if "ruleset_version" in expect and expect["ruleset_version"] != decision.ruleset.version:
        out.append(Mismatch("ruleset_version", expect["ruleset_version"],
                            decision.ruleset.version))
    unknown = (_unknown_rules(expect, known_rules, decision.ruleset.name + "@"
                              + decision.ruleset.version, lang)
               if known_rules is not None else [])
    if unknown:
        out += [m for m in unknown if m.field == "decided_by"]
    elif "decided_by" in expect and expect["decided_by"] != decision.explanation[0].rule:
        out.append(Mismatch("decided_by", expect["decided_by"], decision.explanation[0].rule))
    if "effective_at" in expect and not _same_instant(expect["effective_at"],
                                                      decision.effective_at):
        out.append(Mismatch("effective_at", expect["effective_at"], decision.effective_at))
    if "covers" in expect:
        keys = [("sku", "quantity") + (("amount",) if "amount" in want else ())
                for want in expect["covers"]]
        have = [{k: line.get(k) for k in keys[n]} if n < len(keys) else line
                for n, line in enumerate(decision.covers)]
        if have != list(expect["covers"]):
            out.append(Mismatch("covers", list(expect["covers"]), list(decision.covers)))
    if "return" in expect:
        wanted, settled = expect["return"], decision.return_
        if wanted is None or settled is None:
            if wanted is not settled:
                out.append(Mismatch("return", wanted, settled))
        else:
            out += [Mismatch(f"return.{key}", value, settled.get(key))
                    for key, value in wanted.items() if settled.get(key) != value]
    if "refund" in expect:
        out += _compare_refund(expect["refund"], got["refund"], lang)
    if "penalties" in expect:
        out += _compare_penalties(expect["penalties"], got["penalties"], lang)
    if "next_steps" in expect and list(expect["next_steps"]) != got["next_steps"]:
        out.append(Mismatch("next_steps", list(expect["next_steps"]), got["next_steps"],
                            _list_note(list(expect["next_steps"]), got["next_steps"], lang)))
    out += [m for m in unknown if m.field != "decided_by"]
    fired = list(decision.fired_rules)
    if "rules" in expect:
        missing = [r for r in expect["rules"] if r not in fired
                   and not any(m.field == "rules" and m.expected == r for m in unknown)]
        if missing:
            out.append(Mismatch("rules", list(expect["rules"]), fired,
                                text("did_not_fire", lang, rules=", ".join(missing))))
    if "not_rules" in expect:
        unwanted = [r for r in expect["not_rules"] if r in fired]
        if unwanted:
            out.append(Mismatch("not_rules", list(expect["not_rules"]), fired,
                                text("fired", lang, rules=", ".join(unwanted))))
    return out


def rule_ids(policies: Policies, decision: Decision) -> set[str]:
    """The rules the deciding version has: its own and, for an overlay, its base's."""
    ref = decision.ruleset
    versions = [policies.collection.get(ref.name, ref.version)]
    if ref.extends is not None:
        versions.append(policies.collection.get(ref.extends.name, ref.extends.version))
    return {rule.id for rs in versions if rs is not None for rule in rs.rules}
