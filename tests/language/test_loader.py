"""YAML loading: every bad file is refused with its exact file:line:col and a human message."""

import time

import pytest

from aturan.errors import RulesetError
from aturan.language.loader import MAX_DOCUMENT_BYTES, load_yaml_file, parse_yaml


def error_of(text, path="r.yaml"):
    with pytest.raises(RulesetError) as info:
        parse_yaml(text, path)
    return info.value.first


def test_positions_are_recorded_for_every_pointer():
    doc = parse_yaml("a: 1\nrules:\n  - id: x\n    when: {fact: order.status, eq: paid}\n", "f.yaml")
    assert doc.tree["rules"][0]["id"] == "x"
    loc = doc.location("/rules/0/when/fact")
    assert (loc.file, loc.line, loc.col) == ("f.yaml", 4, 12)
    assert doc.digest.startswith("sha256:") and len(doc.digest) == 71


@pytest.mark.parametrize("text, code, line, col, words", [
    pytest.param("a: 1\nb: 2\na: 3\n", "yaml-duplicate-key", 3, 1, 'duplicate key "a"', id="duplicate-key"),
    pytest.param("a: &x 1\nb: *x\n", "yaml-alias", 1, 4, "anchor &x is not allowed", id="anchor"),
    pytest.param("a: !!python/object:os.system 1\n", "yaml-unsafe-tag", 1, 4, "python/object", id="python-tag"),
    pytest.param("a:\n\t- 1\n", "yaml-tab", 2, 1, "tab characters", id="tab"),
    pytest.param("a: [1, 2\nb: 3\n", "yaml-syntax", 2, 2, "expected ','", id="syntax"),
    pytest.param("", "yaml-empty", 1, 1, "empty", id="empty"),
    pytest.param("? [a]\n: 1\n", "yaml-bad-key", 1, 3, "plain strings", id="non-string-key"),
])
def test_bad_yaml_is_located(text, code, line, col, words):
    err = error_of(text)
    assert (err.code, err.location.line, err.location.col) == (code, line, col)
    assert words in err.message
    assert str(err).startswith(f"r.yaml:{line}:{col}: {code}: ")


def test_billion_laughs_is_refused_quickly():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    started = time.perf_counter()
    err = error_of("\n".join(lines) + "\n")
    assert err.code == "yaml-alias"
    assert time.perf_counter() - started < 1.0


def test_deep_nesting_is_refused():
    err = error_of("a: " + "[" * 200 + "]" * 200 + "\n")
    assert err.code == "yaml-too-deep"


def test_oversized_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * (MAX_DOCUMENT_BYTES + 1) + b"\n")
    with pytest.raises(RulesetError) as info:
        load_yaml_file(big, "big.yaml")
    assert info.value.first.code == "yaml-too-large"
    assert "1,048,576" in info.value.first.message


def test_dates_stay_text_for_the_schema_to_check():
    assert parse_yaml("d: 2024-01-01T00:00:00+07:00\n").tree["d"] == "2024-01-01T00:00:00+07:00"


def test_a_bad_byte_is_located_at_its_line_and_column():
    """Issue 14: `yaml-encoding` pointed at 1:1; now at the byte (columns in characters)."""
    raw = "ruleset: démo\nversion: 1.0.0\ndescription: caf".encode() + b"\xe9 au lait\n"
    with pytest.raises(RulesetError) as caught:
        parse_yaml(raw, "x.yaml")
    assert str(caught.value.first) == ("x.yaml:3:17: yaml-encoding: file is not UTF-8 text "
                                       "(invalid continuation byte: byte 0xE9)")


def test_libyaml_and_pure_python_give_the_same_tree_and_positions():
    """The fast path (libyaml's parser) must not change what a valid file means."""
    from aturan.language import loader
    from conftest import RULESETS
    for path in sorted(RULESETS.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        fast = loader._fast_parse(text, "x")
        slow_loader = loader._NoAliasLoader(text)
        try:
            builder = loader._TreeBuilder("x", slow_loader)
            tree = builder.build(slow_loader.get_single_node())
        finally:
            slow_loader.dispose()
        assert fast is not None and fast == (tree, builder.locations), path


@pytest.mark.slow  # tracemalloc slows the parse about fivefold
def test_a_5800_rule_file_is_refused_quickly_and_in_little_memory(tmp_path):
    """Issue 14: a 5,800-rule 1 MiB file took 14-17 s and 175 MB to validate (5.8 s CPU and
    129 MB of Python allocations here); it is now read from libyaml's events and refused by
    its rule count before the schema walk."""
    import tracemalloc

    from aturan.language.repository import MAX_RULES, load_file
    head = ("ruleset: demo\nversion: 1.0.0\neffective_from: 2024-01-01T00:00:00+07:00\n"
            "description: d\nsources:\n  - {publisher: p, title: t}\ndefault:\n  then: "
            "{outcome: escalated}\n  explain: {en: d, id: d}\nrules:\n")
    rules = "".join(f"  - {{id: r{i}, description: d, priority: {i % 1000}, when: {{fact: "
                    f"order.amounts.total, eq: {i}}}, then: {{outcome: approved}}, explain: "
                    f"{{en: e, id: i}}, source: {{publisher: p, title: t}}}}\n"
                    for i in range(5800))
    path = tmp_path / "demo" / "1.0.0.yaml"
    path.parent.mkdir()
    path.write_text(head + rules, encoding="utf-8")
    assert 1_000_000 < path.stat().st_size <= MAX_DOCUMENT_BYTES
    began = time.process_time()
    rs, problems = load_file(path, "rulesets/demo/1.0.0.yaml")
    seconds = time.process_time() - began
    assert rs is None and [d.code for d in problems] == ["too-many-rules"]
    assert str(problems[0]).startswith(f"rulesets/demo/1.0.0.yaml:{11 + MAX_RULES}:5: ")
    assert seconds < 3.0  # about 0.5 s here
    tracemalloc.start()
    try:
        load_file(path, "rulesets/demo/1.0.0.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024  # about 39 MB here
