"""`aturan init DIR [--platform NAME]` (a new policy folder) and `aturan schema export DIR` (the
effective JSON Schemas of a policy folder, for editors in any folder)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..language.catalogue import bundled_catalogue, default_prefix
from ..language.export import export_schemas
from ..language.project import PROJECT_FILE, catalogue_for, load_project
from .common import console
from .render import print_diagnostics
from .scaffold import HOOKS_REPO, files

_PLATFORM = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # the project schema's platform name


def _export(folder: Path, project: Path | None) -> list[Path]:
    """Write the effective schemas of `project` (default: the folder's own policy folder) into
    `folder`; exit 1 with located errors when the project file is bad."""
    if project is not None:
        catalogue, problems = load_project(project, str(project))
    else:
        catalogue, problems = catalogue_for([folder])
    print_diagnostics(console(err=True), problems)
    if catalogue is None:
        raise click.exceptions.Exit(1)
    return export_schemas(catalogue, folder)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--platform", "platform", default=bundled_catalogue().default_platform,
              show_default=True,
              metavar="NAME", help="The marketplace: a bundled one, or a new name "
              "(lower-case letters, digits, _) that aturan.yaml then declares.")
@click.option("--display-name", default=None, help="The new platform's name as people write "
              "it (default: NAME in title case).")
@click.option("--hooks-repo", default=HOOKS_REPO, show_default=True, metavar="URL",
              help="Where .pre-commit-config.yaml gets aturan's hooks from.")
def init(directory: Path, platform: str, display_name: str | None, hooks_repo: str) -> None:
    """Scaffold a policy folder in DIRECTORY (new or empty): aturan.yaml, one ruleset with two
    sourced rules and a default, its cases, editor schemas, a pre-commit config."""
    if not _PLATFORM.match(platform):
        raise click.BadParameter(f"{platform!r} is not a platform name: lower-case letters, "
                                 "digits and _, starting with a letter", param_hint="--platform")
    if directory.exists() and any(directory.iterdir()):
        raise click.UsageError(f"{directory} is not empty; init writes only into a new or "
                               "empty folder")
    bundled = bundled_catalogue().platforms.get(platform)
    display = bundled.display_name if bundled else (
        display_name or platform.replace("_", " ").title())
    if "\n" in display or ":" in display or not display.strip() or len(display) > 64:
        raise click.BadParameter("a display name is one line of at most 64 characters, "
                                 "without a colon", param_hint="--display-name")
    prefix = bundled.id_prefix if bundled else default_prefix(display)
    for relative, text in files(platform, display, prefix, bundled is not None,
                                hooks_repo).items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    written = _export(directory / "schemas", directory / PROJECT_FILE)
    out = console()
    out.print(f"[green]created[/] {directory}: {PROJECT_FILE}, rulesets/{platform}/1.0.0.yaml "
              f"and its cases, {len(written)} schemas in schemas/, .pre-commit-config.yaml")
    out.print(f"next: cd {directory} && aturan validate && aturan test --coverage")


@click.group()
def schema() -> None:
    """The JSON Schemas of a policy folder."""


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--project", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help=f"The {PROJECT_FILE} to apply (default: the one of the policy "
              "folder DIRECTORY is in, if any).")
def export(directory: Path, project: Path | None) -> None:
    """Write the effective schemas (ruleset, facts, decision, cases, project) into DIRECTORY,
    so editors and check-jsonschema validate this folder's files."""
    written = _export(directory, project)
    console().print("[green]wrote[/] " + ", ".join(str(p) for p in written))
