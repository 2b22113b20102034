"""Shared fixtures: the repository's rulesets loaded once, and a factory of valid order facts."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aturan
from aturan.regression.cases import deep_merge

ROOT = Path(__file__).resolve().parent.parent
RULESETS = ROOT / "rulesets"
# a ruleset written to exercise every construct of the language v2 (tests/fixtures/v2/README.md)
V2_RULESETS = ROOT / "tests" / "fixtures" / "v2"


TIKTOK_1 = RULESETS / "tiktok_shop" / "1.0.0.yaml"


def tiktok_only(folder: Path) -> Path:
    """A rulesets folder holding only a copy of tiktok_shop 1.0.0 (in force 2023-12-12 - 2025-03-26)."""
    root = folder / "rulesets"
    (root / "tiktok_shop").mkdir(parents=True)
    shutil.copy(TIKTOK_1, root / "tiktok_shop" / "1.0.0.yaml")
    return root


def next_version(text: str = "") -> str:
    """tiktok_shop 1.1.0: 1.0.0's rules, in force from the day 1.0.0 ends."""
    text = text or TIKTOK_1.read_text(encoding="utf-8")
    return (text.replace("version: 1.0.0", "version: 1.1.0")
            .replace("effective_from: 2023-12-12T00:00:00+07:00",
                     "effective_from: 2025-03-26T00:00:00+07:00")
            .replace("effective_until: 2025-03-26T00:00:00+07:00\n", ""))

BASE_FACTS: dict[str, Any] = {
    "order": {
        "id": "TS-1001",
        "platform": "tiktok_shop",
        "placed_at": "2024-03-01T10:00:00+07:00",
        "status": "paid",
        "payment": {"method": "ewallet", "paid_at": "2024-03-01T10:05:00+07:00",
                    "deadline_at": None},
        "amounts": {"items": 150000, "shipping": 12000, "discount": 0, "total": 162000},
        "items": [{"sku": "KAOS-M", "product_type": "regular", "quantity": 1,
                   "unit_price": 150000}],
        "seller": {"id": "S-77", "policy": None},
        "fulfillment": {"ship_by": "2024-03-03T23:59:00+07:00", "shipped_at": None,
                        "delivered_at": None},
    },
    "request": {"type": "cancel", "by": "buyer", "reason": "changed_mind",
                "at": "2024-03-01T12:00:00+07:00", "seller_response": None},
}


def make_facts(patch: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid TikTok Shop order (paid, buyer asks to cancel, March 2024) with `patch` merged in."""
    return deep_merge(copy.deepcopy(BASE_FACTS), patch or {})


def varied_facts(n: int) -> dict[str, Any]:
    """The n-th of a varied run of valid orders (statuses, requesters, reasons and amounts
    in turn), for logs and replays whose records must differ."""
    statuses = ["paid", "unpaid", "to_ship", "shipped", "delivered"]
    patch: dict[str, Any] = {
        "order": {"id": f"R-{n}", "status": statuses[n % len(statuses)],
                  "amounts": {"total": 162000 + n, "shipping": 12000 + n}},
        "request": {"by": ["buyer", "seller"][n % 2],
                    "reason": ["changed_mind", "out_of_stock", "damaged"][n % 3]}}
    if patch["order"]["status"] == "unpaid":
        patch["order"]["payment"] = {"paid_at": None, "deadline_at": None}
    return make_facts(patch)


@pytest.fixture(scope="session")
def policies() -> aturan.Policies:
    return aturan.load(RULESETS)


@pytest.fixture
def facts():
    return make_facts


@pytest.fixture(scope="module")
def bundled() -> Iterator[aturan.Policies]:
    """The bundled rulesets, loaded once per test module and closed after it."""
    loaded = aturan.load(RULESETS)
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def v2() -> Iterator[aturan.Policies]:
    """The language v2 fixture (tests/fixtures/v2): every new construct, on its own; once per
    test module."""
    loaded = aturan.load(V2_RULESETS)
    yield loaded
    loaded.close()


def write_ruleset(folder: Path, text: str, name: str = "demo", version: str = "1.0.0") -> Path:
    """Write a ruleset file where the loader expects it: <folder>/rulesets/<name>/<version>.yaml;
    returns the rulesets root, so diagnostics name `rulesets/<name>/<version>.yaml`."""
    root = folder / "rulesets"
    target = root / name / f"{version}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return root


MINIMAL_RULESET = """\
ruleset: demo
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: A small ruleset for tests.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated }
  explain: { en: Nothing matched., id: Tidak ada yang cocok. }
rules:
  - id: unpaid-cancel
    description: Unpaid orders are cancelled at once.
    priority: 10
    when:
      all:
        - { fact: order.status, eq: unpaid }
    then: { outcome: approved }
    explain: { en: Unpaid., id: Belum dibayar. }
    source: { publisher: Test, title: Test source }
"""


# --- golden files: the exact text a person reads ---------------------------------------------

GOLDEN = ROOT / "tests" / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.txt from what the code prints now")
    parser.addoption("--update-screenshots", action="store_true", default=False,
                     help="rewrite docs/images/playground-*.png from the browser tests")


class Golden:
    """Compares printed text with `tests/golden/<name>.txt`; `--update-golden` rewrites the file
    instead (review the diff before committing it)."""

    def __init__(self, update: bool):
        self.update = update

    def check(self, name: str, text: str) -> None:
        path = GOLDEN / f"{name}.txt"
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"no golden file {path}; run pytest --update-golden and review it"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{name}: output differs from {path.relative_to(ROOT)} " \
                                 "(pytest --update-golden rewrites it after review)"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(request.config.getoption("--update-golden"))
