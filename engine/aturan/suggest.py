"""'Did you mean …?' suggestions for keys, fact paths, enum values and rule ids."""

from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(word: object, candidates: Iterable[object]) -> str:
    """Return ' Did you mean "x"?' for the closest candidate, or '' when none is close."""
    names = [str(c) for c in candidates]
    matches = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f'Did you mean "{matches[0]}"?' if matches else ""
