"""The catalogue has one home: no module of the package but `language/catalogue.py` names a
bundled platform or copies a bundled enum's values, so a policy folder's aturan.yaml reaches
everything (issue: witness orders once named a hard-coded platform list)."""

from __future__ import annotations

import ast
import re

from aturan.language.catalogue import bundled_catalogue
from conftest import ROOT

PACKAGE = ROOT / "engine" / "aturan"
HOME = PACKAGE / "language" / "catalogue.py"


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return sorted(found)


def _offences(package=PACKAGE) -> list[str]:
    catalogue = bundled_catalogue()
    platform = re.compile(r"\b(" + "|".join(map(re.escape, catalogue.platforms)) + r")\b")
    enums = [(f.path, set(f.enum)) for f in catalogue.fields.values() if len(f.enum) > 2]
    found = []
    for path in sorted(package.rglob("*.py")):
        if path == HOME:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        where = path.relative_to(package)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docs and platform.search(node.value)):
                found.append(f"{where}:{node.lineno}: platform name in {node.value[:60]!r}")
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                found += [f"{where}:{node.lineno}: the values of {fact} copied"
                          for fact, enum in enums if values == enum]
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if len(keys & set(catalogue.platforms)) >= 2:
                    found.append(f"{where}:{node.lineno}: a table keyed by platform")
    return sorted(found)


def test_no_module_outside_the_catalogue_names_platforms_or_copies_enums():
    assert _offences() == []


def test_the_check_finds_what_it_looks_for(tmp_path):
    (tmp_path / "witness.py").write_text(
        '"""Docstrings may say tiktok_shop."""\nPLATFORMS = ("lazada", "shopee")\n'
        'STATUSES = ["unpaid", "paid", "to_ship", "shipped", "delivered", "completed", '
        '"cancelled", "returned"]\nPREFIX = {"lazada": "LZ", "shopee": "SP"}\n',
        encoding="utf-8")
    offences = _offences(tmp_path)
    assert [o.split(": ", 1)[0] for o in offences] == [
        "witness.py:2", "witness.py:2", "witness.py:3", "witness.py:4", "witness.py:4",
        "witness.py:4"]
    assert "the values of order.status copied" in offences[2]
