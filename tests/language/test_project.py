"""The project file (aturan.yaml) and the effective catalogue it makes: bad files are located
errors, good ones extend every reading of the catalogue, and no project file changes nothing."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path

import pytest

import aturan
from aturan.cli import main
from aturan.language.catalogue import bundled_catalogue, catalogue
from aturan.language.project import catalogue_for, load_project
from aturan.language.repository import load_collection
from aturan.runtime.businessdays import add_business_days
from aturan.runtime.facts import reader_for
from conftest import MINIMAL_RULESET, RULESETS, make_facts, write_ruleset

GOOD = """\
platforms:
  blibli: { display_name: Blibli, time_zone: Asia/Jakarta, holidays: ID }
  grab_mart: { display_name: Grab Mart, time_zone: Asia/Singapore, holidays: none }
facts:
  order.ext.seller_tier: { type: enum, values: [regular, mall], description: Tier. }
  order.ext.voucher: { type: rupiah, description: Platform voucher. }
  request.ext.attempts: { type: count, description: Earlier requests. }
  request.ext.chat_at: { type: timestamp, description: Buyer opened a chat. }
  order.ext.note: { type: string, description: Free text. }
  order.ext.mall: { type: boolean, description: Mall shop., required: true }
values:
  request.reason: [courier_lost]
next_steps: [order_cancelled, contact_customer_service]
"""


def folder(tmp_path: Path, project: str | None, ruleset: str = MINIMAL_RULESET,
           name: str = "demo") -> Path:
    root = write_ruleset(tmp_path, ruleset, name=name)
    if project is not None:
        (tmp_path / "aturan.yaml").write_text(project, encoding="utf-8")
    return root


@pytest.mark.parametrize("project, code, where", [
    ("facts:\n  order.status: { type: enum, values: [a], description: d }\n",
     "project-redefines-fact", "aturan.yaml:2:3"),
    ("facts:\n  order.tier: { type: boolean, description: d }\n", "project-fact-path",
     "aturan.yaml:2:3"),
    ("platforms:\n  shopee: { display_name: S, time_zone: Asia/Jakarta, holidays: ID }\n",
     "project-platform-clash", "aturan.yaml:2:3"),
    ("facts:\n  order.ext.tier: { type: bool, description: d }\n", "schema",
     "aturan.yaml:2:21"),
    ("facts:\n  order.ext.tier: { type: enum, values: [], description: d }\n",
     "project-empty-enum", "aturan.yaml:2:3"),
    ("facts:\n  order.ext.tier: { type: enum, description: d }\n", "project-empty-enum",
     "aturan.yaml:2:3"),
    ("platforms:\n  blibli:\n    display_name: B\n    time_zone: Asia/Jakrta\n    holidays: ID\n",
     "project-time-zone", "aturan.yaml:4:5"),
    ("platforms:\n  blibli: { display_name: B, time_zone: Asia/Jakarta, holidays: XX }\n",
     "project-holidays", "aturan.yaml:2:55"),
    ("values:\n  order.platform: [blibli]\n", "project-values-platform", "aturan.yaml:2:3"),
    ("values:\n  request.reasn: [x]\n", "project-values-fact", "aturan.yaml:2:3"),
    ("facts:\n  order.ext.n: { type: count, values: [a], description: d }\n",
     "project-values-not-enum", "aturan.yaml:2:31"),
    ("platforms:\n  Blibli: { display_name: B, time_zone: Asia/Jakarta, holidays: ID }\n",
     "schema", "aturan.yaml:2:3"),
    ("facts: [1, 2\n", "yaml-syntax", "aturan.yaml:"),
])
def test_a_bad_project_file_is_a_located_error_and_exit_1(tmp_path, capsys, project, code,
                                                          where, monkeypatch):
    folder(tmp_path, project)
    monkeypatch.chdir(tmp_path)  # files are named as given: relative to here
    root = Path("rulesets")
    _, problems = load_collection([root])
    assert problems and problems[0].code == code, problems
    assert str(problems[0]).startswith(where), str(problems[0])
    assert main(["validate", str(root)]) == 1
    err = capsys.readouterr().err
    assert re.match(rf"aturan\.yaml:\d+:\d+: {code}: ", err), err
    with pytest.raises(aturan.RulesetError):
        aturan.load(root)


def test_hints_name_what_was_meant(tmp_path):
    root = folder(tmp_path, "platforms:\n  blibli: { display_name: B, time_zone: Asia/Jakrta,"
                  " holidays: ID }\nfacts:\n  order.ext.tier: { type: bool, description: d }\n")
    _, problems = load_collection([root])
    assert 'Did you mean "boolean"?' in problems[0].full_message
    root = folder(tmp_path / "b", "platforms:\n  blibli: { display_name: B, time_zone: "
                  "Asia/Jakrta, holidays: ID }\n")
    _, problems = load_collection([root])
    assert 'Did you mean "Asia/Jakarta"?' in problems[0].full_message


def test_no_project_file_is_the_bundled_catalogue(tmp_path):
    root = folder(tmp_path, None)
    collection, problems = load_collection([root])
    assert [d.code for d in problems] == ["unknown-platform"]  # demo: below
    assert collection.catalogue is bundled_catalogue()
    assert aturan.load(RULESETS).catalogue is bundled_catalogue()
    # and a bundled engine name carries no catalogue digest (decisions unchanged)
    assert aturan.load(root)._compiled[("demo@1.0.0", None)].engine_name.count("@") == 1


def test_the_effective_catalogue_has_the_projects_additions(tmp_path):
    catalogue, problems = load_project(_write(tmp_path, GOOD))
    assert problems == [] and catalogue is not None
    base = bundled_catalogue()
    assert set(catalogue.fields) - set(base.fields) == {
        "order.ext.seller_tier", "order.ext.voucher", "request.ext.attempts",
        "request.ext.chat_at", "order.ext.note", "order.ext.mall"}
    assert catalogue.fields["order.ext.voucher"].unit == "rupiah"
    assert catalogue.fields["request.ext.chat_at"].kind == "timestamp"
    assert catalogue.fields["order.ext.mall"].nullable is False
    assert catalogue.fields["request.reason"].enum[-1] == "courier_lost"
    assert list(catalogue.platforms)[-2:] == ["blibli", "grab_mart"]
    assert catalogue.platforms["grab_mart"].calendar == ""
    assert catalogue.platforms["grab_mart"].id_prefix == "GM"
    assert catalogue.digest != base.digest
    # the bundled catalogue is untouched
    assert "order.ext.mall" not in base.fields and "blibli" not in base.platforms
    assert base.facts_schema == json.loads(Path(RULESETS.parent / "schemas" /
                                                "facts.schema.json").read_text())


def test_the_fast_check_compiles_the_extended_schema_and_stays_exact(tmp_path):
    catalogue, _ = load_project(_write(tmp_path, GOOD))
    assert catalogue is not None
    reader = reader_for(catalogue)
    assert reader.check is not None  # the extensions use only keywords it compiles
    facts = _blibli(make_facts())
    values = reader.check(facts)
    assert values is not None and values["order.ext.seller_tier"] == "mall"
    for bad in ({"seller_tier": "gold", "mall": True}, {"mall": "yes"}, {"voucher": -1,
                                                                         "mall": True},
                {"seller_tier": "mall"}, {"mall": True, "extra": 1}):
        wrong = copy.deepcopy(facts)
        wrong["order"]["ext"] = bad
        assert reader.check(wrong) is None
        assert [d.location.pointer for d in _problems(reader, wrong)] != []


def test_extra_facts_are_validated_decided_and_explained(tmp_path):
    ruleset = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: blibli").replace(
        "{ fact: order.status, eq: unpaid }", "{ fact: order.ext.seller_tier, eq: mall }")
    root = folder(tmp_path, GOOD, ruleset, name="blibli")
    policies = aturan.load(root)
    decision = policies.decide(_blibli(make_facts()))
    assert decision.explanation[0].because[0]["fact"] == "order.ext.seller_tier"
    with pytest.raises(aturan.FactsError) as caught:
        policies.decide(_blibli(make_facts(), tier="gold"))
    assert caught.value.first.location.pointer == "/order/ext/seller_tier"
    # the bundled catalogue knows neither the platform nor the fact
    with pytest.raises(aturan.FactsError):
        aturan.load(RULESETS).decide(_blibli(make_facts()))


def test_an_unknown_extra_fact_gets_a_did_you_mean(tmp_path):
    ruleset = MINIMAL_RULESET.replace("{ fact: order.status, eq: unpaid }",
                                      "{ fact: order.ext.seller_teir, eq: mall }")
    root = folder(tmp_path, GOOD, ruleset)
    _, problems = load_collection([root])
    assert problems[0].code == "unknown-fact"
    assert 'Did you mean "order.ext.seller_tier"?' in problems[0].full_message
    ruleset = MINIMAL_RULESET.replace("{ fact: order.status, eq: unpaid }",
                                      "{ fact: order.ext.seller_tier, eq: gold }")
    _, problems = load_collection([folder(tmp_path / "b", GOOD, ruleset)])
    assert problems[0].code == "bad-enum-value"


def test_a_closed_next_step_list_is_checked(tmp_path):
    ruleset = MINIMAL_RULESET.replace("then: { outcome: approved }",
                                      "then: { outcome: approved, next_steps: [order_canceled] }")
    assert "order_canceled" in ruleset
    _, problems = load_collection([folder(tmp_path, GOOD, ruleset)])
    assert [d.code for d in problems] == ["unknown-next-step"]
    assert 'Did you mean "order_cancelled"?' in problems[0].full_message


def test_a_ruleset_for_an_undeclared_platform_is_warned_about(tmp_path, capsys, monkeypatch):
    """The issue's first stumble: validate said ok, then every decision failed."""
    ruleset = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: blibli")
    folder(tmp_path, None, ruleset, name="blibli")
    monkeypatch.chdir(tmp_path)
    root = Path("rulesets")
    assert main(["validate", str(root)]) == 0  # a warning, not an error
    err = capsys.readouterr().err
    assert err.startswith('rulesets/blibli/1.0.0.yaml:1:1: unknown-platform: ruleset "blibli" '
                          "is named after no platform")
    assert "platforms:" in err and "aturan.yaml" in err
    (tmp_path / "aturan.yaml").write_text(
        "platforms:\n  blibli: { display_name: Blibli, time_zone: Asia/Jakarta, holidays: ID }\n")
    assert load_collection([root])[1] == []


def test_paths_of_two_policy_folders_are_refused_together(tmp_path):
    one = folder(tmp_path / "one", GOOD)
    two = folder(tmp_path / "two", None)
    catalogue, problems = catalogue_for([one, two])
    assert catalogue is None and problems[0].code == "project-mixed"


def test_the_project_root_stands_for_its_rulesets_folder(tmp_path, capsys):
    folder(tmp_path, GOOD)
    assert main(["validate", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 file(s)")


def test_business_days_follow_the_platforms_calendar():
    # Wed 17 Aug 2022 is Indonesia's Independence Day
    assert add_business_days(date(2022, 8, 16), 1) == date(2022, 8, 18)
    assert add_business_days(date(2022, 8, 16), 1, "") == date(2022, 8, 17)
    assert add_business_days(date(2022, 8, 16), 1, "SG") == date(2022, 8, 17)


def test_due_dates_and_message_times_use_the_platforms_time_zone(tmp_path):
    ruleset = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: grab_mart").replace(
        "then: { outcome: approved }", "then: { outcome: approved, refund: { amount: full, "
        "destination: original_method, eta: { min_business_days: 0, max_business_days: 0 } } }"
    ).replace("explain: { en: Unpaid., id: Belum dibayar. }",
              "explain: { en: 'At {now}, {request.at}: {order.ext.voucher}.', id: Belum. }")
    policies = aturan.load(folder(tmp_path, GOOD, ruleset, name="grab_mart"))
    facts = make_facts({"order": {"platform": "grab_mart", "status": "unpaid",
                                  "ext": {"mall": False, "voucher": 5000}},
                        "request": {"at": "2024-08-16T23:30:00+07:00"}})
    decision = policies.decide(facts)
    # Friday 23:30 in Jakarta is Saturday 00:30 in Singapore: the next business day is Monday
    assert decision.refund is not None and decision.refund.due_by == "2024-08-19"
    assert decision.explanation[0].message["en"] == (
        "At 2024-08-17T00:30:00+08:00, 2024-08-17 00:30 +08: Rp5.000.")


def test_catalogue_keeps_serving_the_bundled_fields():
    assert catalogue() is bundled_catalogue().fields
    names = bundled_catalogue().facts_schema["properties"]["order"]["properties"]["platform"]
    assert list(bundled_catalogue().platforms) == names["enum"]
    assert {p.timezone for p in bundled_catalogue().platforms.values()} == {"Asia/Jakarta"}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aturan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _blibli(facts: dict, tier: str = "mall") -> dict:
    facts["order"]["platform"] = "blibli"
    facts["order"]["ext"] = {"seller_tier": tier, "mall": True}
    return facts


def _problems(reader, facts):
    from aturan.runtime.facts import validate_facts

    return validate_facts(facts, reader)


def test_the_fast_check_compiles_only_identifier_property_names():
    from aturan.runtime.fastcheck import Limits, compile_checker

    limits = Limits(1024, 2 ** 63, 16, 10_000)

    def schema(name: str) -> dict:
        return {"type": "object", "additionalProperties": False,
                "properties": {name: {"type": "boolean"}}}

    assert compile_checker(schema("seller_tier"), limits) is not None
    for name in ("a-b", "x'); import os; ('", "1st", ""):
        assert compile_checker(schema(name), limits) is None
