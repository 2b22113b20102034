"""The effective JSON Schemas of a policy folder, for editors and `check-jsonschema`: the bundled
schemas with the folder's catalogue applied (its platforms and facts in the facts schema, its
fact paths offered to a ruleset's `fact:`), written by `aturan schema export DIR`.

Built as data from the bundled schemas and the catalogue, like `Catalogue.facts_schema`; what
aturan itself validates with is unchanged (the semantic checks give the did-you-mean)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..resources import load_schema
from .catalogue import Catalogue

SCHEMA_NAMES = ("ruleset", "facts", "decision", "cases", "project")


def effective_schemas(catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    """name -> schema: `ruleset`, `facts`, `decision`, `cases`, `project`."""
    found: dict[str, dict[str, Any]] = {}
    for name in SCHEMA_NAMES:
        schema = copy.deepcopy(catalogue.facts_schema if name == "facts" else load_schema(name))
        # an effective schema is this folder's, not the bundled one the $id names
        schema.pop("$id", None)
        found[name] = schema
    ruleset = found["ruleset"]
    paths = sorted(p for p in catalogue.fields)
    fact = ruleset["$defs"]["atom"]["properties"]["fact"]
    fact["enum"] = paths  # editors complete the folder's fact paths and flag others
    fact["description"] = (fact.get("description", "") + " This folder's facts: the bundled "
                           "ones and those its aturan.yaml adds.").strip()
    name = ruleset["properties"]["ruleset"]
    name["examples"] = list(catalogue.platforms)
    if catalogue.next_steps is not None:
        items = ruleset["$defs"]["effect"]["properties"]["next_steps"]["items"]
        items["enum"] = list(catalogue.next_steps)
    return found


def export_schemas(catalogue: Catalogue, folder: Path) -> list[Path]:
    """Write `<name>.schema.json` for each effective schema into `folder`; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in effective_schemas(catalogue).items():
        path = folder / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written
