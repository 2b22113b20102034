"""The commands the docs tell people to type are run, so the docs cannot rot: every line of
every ```` ```sh ```` block of the pages below runs in a temporary copy of the repository (its
rulesets and examples), in order, with `aturan` and `pytest` on the PATH, and must exit 0 (or
the code its comment names: `# exit 1 if anything changed`). Each block is one shell started at
the copy's root (a `cd` holds to the end of its block); files persist across blocks. Blocks marked
```` ```sh long ```` (minutes, or a virtualenv), ```` ```sh serve ```` (runs until stopped) or
```` ```sh cluster ```` (a Dask cluster and data of one's own) are not run; `STAND_INS` makes
what a skipped block would have made, smaller."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT

PAGES = ("README.md", "docs/testing.md", "docs/authoring.md")
SKIPPED_TAGS = {"long", "serve", "cluster"}
# what a skipped block would have made, made small, so the commands after it still run
STAND_INS = {
    "docs/testing.md": ["aturan sample --platform tiktok_shop --n 2000 --seed 7 > orders.jsonl"],
}
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
EXIT = re.compile(r"#.*\bexit (\d)\b")
SECONDS = 1200  # per block: generous, the machine is shared
MARK = "__docs_command_exit__"


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str
    tags: frozenset[str]
    block: int = 0  # which block of the page: its commands share one shell

    @property
    def expected_exit(self) -> int:
        match = EXIT.search(self.text)
        return int(match.group(1)) if match else 0


def commands(page: str) -> list[Command]:
    """Every command of the page's sh blocks, with the tags of its block (`sh long` -> long)."""
    source = (ROOT / page).read_text(encoding="utf-8")
    found = []
    for number, fence in enumerate(FENCE.finditer(source)):
        info = fence.group(1).split()
        if not info or info[0] != "sh":
            continue
        first = source.count("\n", 0, fence.start(2)) + 1
        for offset, text in enumerate(fence.group(2).splitlines()):
            if text.strip() and not text.lstrip().startswith("#"):
                found.append(Command(page, first + offset, text.strip(),
                                     frozenset(info[1:]), number))
    return found


def script(block: list[Command]) -> str:
    """One block as a shell script: each command, then a marker line with its exit code."""
    lines = []
    for command in block:
        lines += [command.text, f'echo "{MARK} {command.line} $?"']
    return "\n".join(lines) + "\n"


def test_every_page_has_commands_and_only_known_tags():
    for page in PAGES:
        found = commands(page)
        assert [c for c in found if not c.tags & SKIPPED_TAGS], f"{page}: nothing would run"
        assert {t for c in found for t in c.tags} <= SKIPPED_TAGS, page


def test_the_readme_creates_order_json_before_using_it():
    texts = [c.text for c in commands("README.md") if not c.tags]
    made = next(i for i, t in enumerate(texts) if "> order.json" in t)
    used = [i for i, t in enumerate(texts) if "order.json" in t and "> order.json" not in t]
    assert used and made < min(used)


def _environment(tmp_path: Path) -> dict[str, str]:
    """`aturan` and `pytest` from this interpreter, importing this checkout."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, module in (("aturan", "aturan"), ("pytest", "pytest")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
        shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COLUMNS"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "engine")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_documented_commands_run(tmp_path, page):
    work = tmp_path / "repo"
    work.mkdir()
    for folder in ("rulesets", "examples"):
        shutil.copytree(ROOT / folder, work / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = _environment(tmp_path)
    runnable = [Command(page, 0, text, frozenset(), -1) for text in STAND_INS.get(page, ())] + [
        c for c in commands(page) if not c.tags & SKIPPED_TAGS]
    blocks: dict[int, list[Command]] = {}
    for command in runnable:
        blocks.setdefault(command.block, []).append(command)
    failures = [f for block in blocks.values() for f in run_block(block, work, env)]
    assert not failures, "\n\n".join(failures)


def run_block(block: list[Command], work: Path, env: dict[str, str]) -> list[str]:
    """Run one block in one shell; a line per command that did not exit as expected."""
    started = time.monotonic()
    code, out = _run(script(block), work, env)
    exits = {int(m.group(1)): int(m.group(2))
             for m in re.finditer(rf"^{MARK} (\d+) (\d+)$", out, re.M)}
    failures = []
    for command in block:
        got = exits.get(command.line, f"nothing (the block ended: {code})")
        if got != command.expected_exit:
            failures.append(f"{command.page}:{command.line}: `{command.text}` exited {got} "
                            f"(expected {command.expected_exit}); the block took "
                            f"{time.monotonic() - started:.1f} s\n{out[-4000:]}")
    return failures


def test_the_runner_catches_a_failing_line_and_keeps_a_cd_within_its_block(tmp_path):
    (tmp_path / "sub").mkdir()
    block = [Command("page.md", n, text, frozenset(), 0) for n, text in enumerate(
        ["cd sub", "test -d ../sub && touch made", "false", "false  # exit 1 on purpose",
         "test -f made"], start=1)]
    failures = run_block(block, tmp_path, dict(os.environ))
    assert [f.split(":", 2)[1] for f in failures] == ["3"]
    assert (tmp_path / "sub" / "made").exists()


def _run(text: str, cwd: Path, env: dict[str, str]) -> tuple[int | str, str]:
    """Run one block's script in its own process group; past the deadline the whole group is
    killed (a server a page forgot to mark `serve` must not outlive the test)."""
    process = subprocess.Popen(["bash", "-c", text], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        out, _ = process.communicate(timeout=SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        return f"nothing: still running after {SECONDS} s", out
    return process.returncode, out
