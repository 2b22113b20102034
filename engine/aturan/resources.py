"""Where the bundled schemas and rulesets are, in a source checkout and in an installed wheel."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """`schemas` or `rulesets`: inside the wheel (`aturan/_bundled/…`) or at the repository root."""
    installed = _PACKAGE_DIR / "_bundled" / name
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent.parent / name


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One of the project's JSON Schemas by file stem: `facts`, `ruleset`, `decision`, `cases`."""
    with open(bundled_dir("schemas") / f"{name}.schema.json", encoding="utf-8") as handle:
        return json.load(handle)


@cache
def load_data(filename: str) -> Any:
    """A JSON data file kept beside the schemas (`labels.json`), read once."""
    with open(bundled_dir("schemas") / filename, encoding="utf-8") as handle:
        return json.load(handle)
