"""Every enum value of the facts and decision schemas has a label in every message language,
every frame text exists in every language with the same fields, and rule messages read enum
values by their label in the message's language."""

from __future__ import annotations

import string

import pytest

from aturan.language import labels
from aturan.language.display import atom_text, code_and_label, label, text
from aturan.resources import load_schema
from conftest import make_facts

ENUMS = [(schema, path, values) for schema in ("facts", "decision")
         for path, values in labels.schema_enums(load_schema(schema))]


def test_the_walk_finds_the_enums_people_meet():
    paths = {path for _, path, _ in ENUMS}
    assert {"order.status", "request.reason", "order.items.product_type",
            "request.seller_response.decision", "outcome", "refund.destination",
            "penalties.party"} <= paths


@pytest.mark.parametrize("schema, path, values", ENUMS, ids=[f"{s}:{p}" for s, p, _ in ENUMS])
def test_every_enum_value_has_a_label_in_every_language(schema, path, values):
    table = labels.labels().get(path)
    assert table is not None, f"schemas/labels.json has no labels for {path} ({schema} schema)"
    for value in values:
        assert value in table, f"{path}: {value!r} has no label in schemas/labels.json"
        for lang in labels.LANGUAGES:
            assert table[value].get(lang, "").strip(), f"{path}: {value!r} has no {lang} label"


def test_no_label_for_a_value_that_does_not_exist():
    known = {path: set(values) for _, path, values in ENUMS}
    for path, table in labels.labels().items():
        assert path in known, f"labels.json labels {path}, which no schema has"
        assert set(table) <= known[path], f"{path}: stale labels {set(table) - known[path]}"


@pytest.mark.parametrize("key", sorted(labels.FRAME))
def test_every_frame_text_is_in_every_language_with_the_same_fields(key):
    entry = labels.FRAME[key]
    fields = {lang: {f for _, f, _, _ in string.Formatter().parse(entry[lang]) if f}
              for lang in labels.LANGUAGES}
    assert set(entry) == set(labels.LANGUAGES), key
    assert fields["en"] == fields["id"], (key, fields)


def test_labels_and_frame_fall_back_to_the_code_and_to_english():
    assert label("request.reason", "out_of_stock", "en") == "out of stock"
    assert label("request.reason", "out_of_stock", "id") == "stok habis"
    assert label("request.reason", "not_a_code", "id") == "not_a_code"
    assert text("why", "id") == "alasan" and text("why", "xx") == "why"
    assert code_and_label("outcome", "approved", "en") == "approved"
    assert code_and_label("outcome", "approved", "id", upper=True) == "APPROVED (disetujui)"


def test_one_condition_reads_one_way():
    assert atom_text("request.seller_response.decision", "absent", True, None) == (
        "request.seller_response.decision absent — actual absent")
    assert atom_text("request.at", "within", "24h", "2024-03-01T12:00:00+07:00", "in 1h",
                     lang="id") == ("request.at within 24h — aktual 2024-03-01T12:00:00+07:00 "
                                    "(1h lagi)")
    assert atom_text("order.status", "eq", "paid", "paid", negated=True) == (
        "not order.status eq paid — actual paid")


def test_rule_messages_read_enum_values_by_their_label(policies):
    facts = make_facts({"request": {"by": "seller", "reason": "out_of_stock"}})
    message = policies.decide(facts).explanation[0].message
    assert "(out of stock)" in message["en"] and "(stok habis)" in message["id"]
    assert policies.decide(facts, lang="id").explanation[0].message["id"] == message["id"]
