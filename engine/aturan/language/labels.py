"""What people read around the rules' own messages, in each language a message is written in:
the frame of text output (`refund`, `business days`, `why`, `actual`, …) and the label of every
enum code (`out_of_stock` → "out of stock" / "stok habis").

The enum labels are data, in `schemas/labels.json` beside the schemas they label (a UI or a
client can read them too); the frame is code, here, because only aturan's own renderers use it.
`tests/language/test_labels.py` fails when an enum value of the facts or decision schema, or a
frame text, lacks a language. `display.py` and the renderers (`cli/render.py`,
`analysis/reference.format_why_not`, `regression/cases.describe_failure`) read both through
`text` and `label`; nothing else holds a translated word.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from ..resources import load_data

LANGUAGES = ("en", "id")  # the languages a rule's `explain` is written in
DEFAULT_LANGUAGE = "en"

# key -> language -> text; `{name}` fields are filled by `text(key, lang, name=...)` (the
# templates are aturan's own, never from a ruleset or a request)
FRAME: Mapping[str, Mapping[str, str]] = MappingProxyType({
    # decide
    "order": {"en": "order", "id": "pesanan"},
    "over": {"en": "over", "id": "di atas"},
    "refund": {"en": "refund", "id": "pengembalian dana"},
    "refund_due": {"en": "{amount} → {destination}, {min}–{max} business days, due by {due}",
                   "id": "{amount} → {destination}, {min}–{max} hari kerja, paling lambat {due}"},
    "refund_no_time": {"en": "{amount} → {destination} (no refund time published)",
                       "id": "{amount} → {destination} (waktu pengembalian dana tidak "
                             "dipublikasikan)"},
    "none": {"en": "none", "id": "tidak ada"},
    "penalty": {"en": "penalty", "id": "penalti"},
    "points": {"en": "{points} points", "id": "{points} poin"},
    "points_not_published": {"en": "points not published", "id": "poin tidak dipublikasikan"},
    "next": {"en": "next", "id": "berikutnya"},
    "why": {"en": "why", "id": "alasan"},
    "no_rule_decided": {"en": "no rule decided", "id": "tidak ada aturan yang memutuskan"},
    "priority": {"en": "priority {priority}", "id": "prioritas {priority}"},
    "source": {"en": "source", "id": "sumber"},
    "outranked": {"en": "{rule} ({priority}, {outcome}) matched but {by} outranks it",
                  "id": "{rule} ({priority}, {outcome}) cocok, tetapi {by} lebih diutamakan"},
    # one condition, the same in decide, why-not and test
    "actual": {"en": "actual", "id": "aktual"},
    "absent": {"en": "absent", "id": "tidak ada"},
    "ago": {"en": "{age} ago", "id": "{age} lalu"},
    "from_now": {"en": "in {age}", "id": "{age} lagi"},
    # a duration between two timestamps (language v2)
    "of": {"en": "of", "id": "dari"},
    "gap_after": {"en": "{gap} after {of}", "id": "{gap} setelah {of}"},
    "gap_before": {"en": "{gap} before {of}", "id": "{gap} sebelum {of}"},
    # decide's text output (language v2)
    "takes_effect": {"en": "takes effect", "id": "berlaku"},
    "covers": {"en": "covers", "id": "mencakup"},
    "return": {"en": "return", "id": "retur"},
    "postage_paid_by": {"en": "return postage paid by the {party}",
                        "id": "ongkos kirim retur ditanggung {party}"},
    # why-not
    "why_fired": {"en": "why {rule}", "id": "mengapa {rule} berlaku"},
    "why_not_fired": {"en": "why not {rule}", "id": "mengapa {rule} tidak berlaku"},
    "verdict_not_matched": {"en": "it did not fire: the conditions marked ✘ failed",
                            "id": "aturan ini tidak berlaku: kondisi bertanda ✘ tidak terpenuhi"},
    "verdict_decided": {"en": "it fired and decided the outcome",
                        "id": "aturan ini berlaku dan menentukan hasilnya"},
    "verdict_overridden": {"en": "it fired, but a higher-priority rule decided the outcome",
                           "id": "aturan ini berlaku, tetapi aturan berprioritas lebih tinggi "
                                 "menentukan hasilnya"},
    "verdict_added": {"en": "it fired and added its penalties and next steps",
                      "id": "aturan ini berlaku dan menambahkan penalti serta langkah "
                            "berikutnya"},
    "all_of": {"en": "all of", "id": "semua dari"},
    "any_of": {"en": "any of", "id": "salah satu dari"},
    "not": {"en": "not", "id": "bukan"},
    "decision_by": {"en": "decision: {outcome} by {rule}", "id": "keputusan: {outcome} oleh {rule}"},
    # test failures
    "by_date": {"en": "by date", "id": "menurut tanggal"},
    "expected_got": {"en": "{field}: expected {expected}, got {actual}",
                     "id": "{field}: diharapkan {expected}, didapat {actual}"},
    "missing": {"en": "missing {items}", "id": "kurang {items}"},
    "unexpected": {"en": "unexpected {items}", "id": "tak diharapkan {items}"},
    "same_items": {"en": "same items, different order", "id": "isi sama, urutan berbeda"},
    "did_not_fire": {"en": "did not fire: {rules}", "id": "tidak berlaku: {rules}"},
    "fired": {"en": "fired: {rules}", "id": "berlaku: {rules}"},
    "no_such_rule": {"en": '{field}: rule "{rule}" does not exist in {ruleset}',
                     "id": '{field}: aturan "{rule}" tidak ada di {ruleset}'},
    "invalid_facts": {"en": "facts: the case's facts are invalid ({count} problem(s), below)",
                      "id": "facts: fakta kasus ini tidak valid ({count} masalah, di bawah)"},
    "no_decision": {"en": "expected a decision, got error {code} (below)",
                    "id": "diharapkan keputusan, didapat galat {code} (di bawah)"},
    "decided_instead": {"en": "error: expected {code}, got outcome {outcome}",
                        "id": "error: diharapkan {code}, didapat hasil {outcome}"},
    "refund_to": {"en": "{amount} to {destination}, {when}", "id": "{amount} ke {destination}, {when}"},
    "business_days": {"en": "{min}-{max} business days, due by {due}",
                      "id": "{min}-{max} hari kerja, paling lambat {due}"},
    "no_refund_time": {"en": "no published refund time", "id": "waktu pengembalian tidak dipublikasikan"},
    "unpublished": {"en": "unpublished", "id": "tidak dipublikasikan"},
    "decided_by": {"en": "decided by", "id": "diputuskan oleh"},
    "also_matched": {"en": "also matched", "id": "juga cocok"},
    "overridden_by": {"en": "overridden {rule} ({priority}, {outcome}) by {by}",
                      "id": "dikalahkan {rule} ({priority}, {outcome}) oleh {by}"},
})


def text(key: str, lang: str | None = None, **fields: Any) -> str:
    """The frame text `key` in `lang` (English when the language has none), fields filled."""
    entry = FRAME[key]
    template = entry.get(lang or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]
    return template.format(**fields) if fields else template


@cache
def labels() -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """field path -> code -> language -> label, from `schemas/labels.json`."""
    data = load_data("labels.json")
    return MappingProxyType({path: MappingProxyType({code: MappingProxyType(dict(by_lang))
                                                     for code, by_lang in codes.items()})
                             for path, codes in data.items() if not path.startswith("$")})


def label(field: str, code: Any, lang: str | None = None) -> str:
    """How enum `code` of `field` (a fact path such as `request.reason`, or a decision field
    such as `outcome`) reads in `lang`; the code itself when it has no label."""
    entry = labels().get(field, {}).get(code) if isinstance(code, str) else None
    if entry is None:
        return str(code)
    return entry.get(lang or DEFAULT_LANGUAGE) or entry[DEFAULT_LANGUAGE]


def schema_enums(schema: Mapping[str, Any]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(field path, values) of every enum in a JSON Schema: properties joined by dots, list
    items under their list's path (`order.items.product_type`), `anyOf`/`$ref` followed."""
    defs = schema.get("$defs", {})

    def walk(node: Any, path: str) -> Iterator[tuple[str, tuple[Any, ...]]]:
        if not isinstance(node, Mapping):
            return
        if "$ref" in node and node["$ref"].startswith("#/$defs/"):
            yield from walk(defs[node["$ref"].rsplit("/", 1)[1]], path)
        if "enum" in node:
            yield path, tuple(node["enum"])
        for name, child in node.get("properties", {}).items():
            yield from walk(child, f"{path}.{name}" if path else name)
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, ()):
                yield from walk(branch, path)
        if "items" in node:
            yield from walk(node["items"], path)

    seen: set[str] = set()
    for path, values in walk(schema, ""):
        if path not in seen:
            seen.add(path)
            yield path, values
