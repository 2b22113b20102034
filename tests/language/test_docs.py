"""Docs stay in step with their sources: generated pages match, every rule is in policies.md."""

import re

from aturan.language import docgen
from conftest import ROOT


def test_generated_pages_are_up_to_date(capsys):
    assert docgen.main(["--check"]) == 0, capsys.readouterr().out


def test_every_bundled_rule_appears_in_policies_md(policies):
    text = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    for rs in policies.collection.versions:
        section = text.split(f"### {rs.key}", 1)
        assert len(section) == 2, f"{rs.key} has no section in docs/policies.md"
        body = section[1].split("\n### ", 1)[0]
        missing = [r.id for r in rs.rules if f"`{r.id}`" not in body]
        assert missing == [], f"{rs.key}: rules missing from docs/policies.md: {missing}"


def test_docs_link_to_pages_that_exist():
    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([a-z_]+\.md)\)", page.read_text(encoding="utf-8")):
            assert (ROOT / "docs" / target).exists(), f"{page.name} links to missing {target}"
