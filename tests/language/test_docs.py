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


def test_a_hand_written_part_after_the_marker_is_kept(tmp_path):
    """policies.md ends in summaries written by hand (the exhaustive diffs): regenerating the page
    keeps them as they are, and a page without the marker is the generated text alone."""
    page = tmp_path / "policies.md"
    assert docgen.with_hand_written(page, "# Generated\n") == "# Generated\n"
    page.write_text("# Old generated\n\n" + docgen.HAND_WRITTEN + "\n\n## By hand\n\ntext\n")
    kept = docgen.with_hand_written(page, "# Generated\n")
    assert kept == "# Generated\n\n" + docgen.HAND_WRITTEN + "\n\n## By hand\n\ntext\n"
    page.write_text("# Generated\n")
    assert docgen.with_hand_written(page, "# New\n") == "# New\n"
