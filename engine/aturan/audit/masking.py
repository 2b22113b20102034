"""Masking: what of an order's facts the decision log may keep.

Fields the facts schema marks `x-sensitive` (`language.catalogue.sensitive_fields`: the buyer's
name, phone, e-mail and address, erased; the buyer id, replaced by a keyed HMAC, so one buyer's
decisions can still be linked without the id) are masked by default; more rules can be added
by JSON pointer, `*` matching any key or index. Masking makes a copy of the parts it changes
and never touches the caller's document: the decision and the response keep every field.

An HMAC needs a key (from an environment variable or a file, never logged): without one, a
field to be HMACed is erased instead."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..language.catalogue import sensitive_fields
from ..runtime.decision import canonical_json

METHODS = ("erase", "hmac")
HMAC_PREFIX = "hmac-sha256:"


@dataclass(frozen=True)
class MaskRule:
    """Mask whatever `pointer` (a JSON pointer; `*` for any key or index) finds, by `method`."""

    pointer: str
    method: str = "erase"

    @classmethod
    def parse(cls, text: str) -> MaskRule:
        """`POINTER` or `POINTER=erase|hmac`; raises ValueError with a message for a person."""
        pointer, _, method = text.partition("=")
        method = method.strip() or "erase"
        pointer = pointer.strip()
        if not pointer.startswith("/") or pointer == "/":
            raise ValueError(f"{text!r}: a mask is a JSON pointer into the facts, e.g. "
                             "/order/items/*/sku (optionally =erase or =hmac)")
        if method not in METHODS:
            raise ValueError(f"{text!r}: unknown masking method {method!r}; use erase or hmac")
        return cls(pointer, method)

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in self.pointer[1:].split("/"))


def default_rules() -> tuple[MaskRule, ...]:
    """The facts schema's `x-sensitive` fields, each by its method."""
    return tuple(MaskRule(pointer, method) for pointer, method in sensitive_fields().items())


@dataclass
class _Node:
    method: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


_ERASED = object()
_MISSING = object()


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


class Masker:
    """Applies mask rules to facts documents. `key`: the HMAC key (None: HMAC fields erased)."""

    def __init__(self, rules: Iterable[MaskRule], key: bytes | None = None):
        self.rules = tuple(rules)
        self._key = key
        self._root = _Node()
        for rule in self.rules:
            node = self._root
            for part in rule.parts:
                node = node.children.setdefault(part, _Node())
            node.method = rule.method
        # the keys every rule's path goes through (`order`, `buyer` for the default rules)
        gate: list[str] = []
        node = self._root
        while node.method is None and len(node.children) == 1:
            (part, node), = node.children.items()
            if part == "*":
                break
            gate.append(part)
        self._gate = tuple(gate)

    @classmethod
    def default(cls, extra: Sequence[MaskRule] = (), key: bytes | None = None) -> Masker:
        """The schema's sensitive fields, then `extra` (a later rule for the same pointer wins)."""
        return cls([*default_rules(), *extra], key)

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def apply(self, facts: Any) -> tuple[Any, dict[str, str]]:
        """(the masked document, pointer -> method of what was masked). The document is
        `facts` itself when nothing matched; otherwise a copy sharing what did not change."""
        if not self._may_match(facts):
            return facts, {}
        found: dict[str, str] = {}
        masked = self._walk(facts, self._root, "", found)
        return (facts if masked is None else masked), found

    def _may_match(self, value: Any) -> bool:
        """False when the document lacks the path every rule goes through (`/order/buyer` for
        the default rules): most orders carry no personal data, and this is two lookups."""
        for part in self._gate:
            if not isinstance(value, dict):
                return True
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return False
        return True

    def _walk(self, value: Any, node: _Node, pointer: str, found: dict[str, str]) -> Any:
        """The replacement of `value` when something under it is masked, else None."""
        copy: Any = None
        for part, child in node.children.items():
            if isinstance(value, dict):
                keys: Iterable[Any] = list(value) if part == "*" else (
                    (part,) if part in value else ())
            elif isinstance(value, list):
                keys = range(len(value)) if part == "*" else (
                    (int(part),) if part.isdigit() and int(part) < len(value) else ())
            else:
                return None
            for key in keys:
                inner = value[key]
                where = f"{pointer}/{_escape(key)}"
                if child.method is not None:
                    method = child.method if self._key is not None else "erase"
                    new = _ERASED if method == "erase" else self._hmac(inner)
                    found[where] = method
                else:
                    new = self._walk(inner, child, where, found)
                    if new is None:
                        continue
                if copy is None:
                    copy = dict(value) if isinstance(value, dict) else list(value)
                if new is _ERASED:
                    if isinstance(copy, dict):
                        del copy[key]
                    else:
                        copy[key] = None  # keep the other indices where they were
                else:
                    copy[key] = new
        return copy

    def _hmac(self, value: Any) -> str:
        assert self._key is not None
        text = value if isinstance(value, str) else canonical_json(value)
        return HMAC_PREFIX + hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()
