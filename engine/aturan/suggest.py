"""'Did you mean …?' suggestions for keys, fact paths, enum values and rule ids."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, candidates: Iterable[object]) -> str:
    """Return ' Did you mean "x"?' for the closest candidate, or '' when none is close."""
    text = str(word)
    # difflib's own length bound, applied first: a huge word (a 10 MB value) is then dismissed
    # without difflib indexing it, which would take seconds and hundreds of MB
    names = [n for n in map(str, candidates)
             if 2 * min(len(n), len(text)) >= 0.6 * (len(n) + len(text))]
    if not names:
        return ""
    matches = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    return f'Did you mean "{matches[0]}"?' if matches else ""
