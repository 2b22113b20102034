"""`canonical_json`, the one writer of canonical bytes, is exactly
`json.dumps(data, ensure_ascii=False, separators=(",", ":"))` (it only avoids building an
encoder per call)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from aturan.runtime.decision import canonical_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


def reference(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@given(JSON)
def test_canonical_json_is_json_dumps_compact_without_ascii_escapes(data):
    assert canonical_json(data) == reference(data)


def test_decisions_and_tricky_values(policies, facts):
    decision = policies.decide(facts()).to_dict()
    odd = {"a": "é\u2028\x00\x1f\"\\/", "b": [1.5, 1e16, -0.0, True, None, 2 ** 70, (1, 2)]}
    for data in (decision, odd, "x\ny", 5, None, [], [[]], {"k": ()}):
        assert canonical_json(data) == reference(data)
