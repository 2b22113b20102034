"""Semantic versions and the small range language of `extends:` (`^1`, `~1.2`, `>=1,<3`, `1.0.0`, `*`)."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-([0-9A-Za-z.-]+))?$")
_COMPARATOR = re.compile(r"^(\^|~|>=|<=|>|<|=)?\s*(.+)$")

Version = tuple[int, int, int, tuple[object, ...]]


def parse_version(text: str) -> Version | None:
    match = _VERSION.match(text.strip())
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    pre_key: tuple[object, ...] = (1,) if pre is None else (0,) + tuple(
        int(p) if p.isdigit() else p for p in pre.split("."))
    return int(major), int(minor or 0), int(patch or 0), pre_key


def _parts(text: str) -> int:
    return len(text.split("-")[0].split("."))


def version_in_range(version: str, spec: str) -> bool:
    """True when `version` satisfies every comma-separated comparator of `spec`."""
    v = parse_version(version)
    if v is None:
        raise ValueError(f"not a semantic version: {version!r}")
    for comparator in (c.strip() for c in spec.split(",")):
        if comparator in ("*", ""):
            continue
        match = _COMPARATOR.match(comparator)
        op, target_text = match.groups() if match else ("", comparator)
        op = op or ""
        target = parse_version(target_text)
        if target is None:
            raise ValueError(f"not a version range: {spec!r}")
        core, tcore = v[:3], target[:3]
        if op == "^":
            upper = (tcore[0] + 1, 0, 0) if tcore[0] else (0, tcore[1] + 1, 0)
            ok = v >= target and core < upper
        elif op == "~":
            upper = (tcore[0], tcore[1] + 1, 0) if _parts(target_text) > 1 else (tcore[0] + 1, 0, 0)
            ok = v >= target and core < upper
        elif op in ("", "="):
            n = _parts(target_text)
            ok = core[:n] == tcore[:n] and (n < 3 or v[3] == target[3])
        else:
            ok = {">=": v >= target, "<=": v <= target, ">": v > target, "<": v < target}[op]
        if not ok:
            return False
    return True


def valid_range(spec: str) -> bool:
    try:
        version_in_range("0.0.0", spec)
    except ValueError:
        return False
    return True
