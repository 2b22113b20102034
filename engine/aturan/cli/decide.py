"""`aturan decide FACTS.json|-`: one decision, or JSON Lines in -> JSON Lines out."""

from __future__ import annotations

import re
import sys
from typing import IO, Any, cast

import click
from rich._emoji_replace import _emoji_replace
from rich.console import Console
from rich.markup import _parse as _parse_markup
from rich.markup import escape

from ..analysis.reference import format_why_not, why_not
from ..errors import AturanError, FactsError, error_body
from ..runtime.decision import canonical_json
from ..runtime.jsonio import read_stream
from .common import console, load_or_exit, rulesets_option
from .render import print_decision, print_diagnostics


@click.command()
@click.argument("facts_file", type=click.File("rb"))
@click.option("--ruleset", "pin", metavar="NAME[@VERSION]",
              help="Use this ruleset (version) instead of the one in force at request.at.")
@click.option("--lang", type=click.Choice(["en", "id"]), default=None,
              help="Language of explanation messages (default: both in JSON, en in text).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--why-not", "why_not_rule", metavar="RULE_ID",
              help="Show, condition by condition, why RULE_ID did or did not fire (with --format "
                   "json: the report instead of the decision).")
@rulesets_option
def decide(facts_file, pin: str | None, lang: str | None, fmt: str, why_not_rule: str | None,
           rulesets_dir: str | None) -> None:
    """Decide order FACTS_FILE (JSON, or JSON Lines for many; - reads stdin)."""
    policies = load_or_exit(rulesets_dir)
    name = getattr(facts_file, "name", "-")
    source = "<stdin>" if name in ("-", "<stdin>", 0) else str(name)
    out: Any = console()
    err = console(err=True)
    batch = None
    if fmt == "text" and not out.is_terminal:  # a file or a pipe: the same text, much faster
        batch = _Batched(sys.stdout)
        rich = Console(file=cast(IO[str], batch), highlight=False, soft_wrap=True,
                       width=out.width, height=out.height, force_terminal=False)
        out = PlainConsole(batch, rich)
    failed = 0
    # streamed: one line read, decided and written at a time, so memory does not grow with
    # the input; a bad line (JSON, UTF-8, size) is reported by its number and the run goes on
    for number, document in read_stream(facts_file, source):
        try:
            if isinstance(document, FactsError):
                raise document
            decision = policies.decide(document, pin, lang)
            report = (why_not(policies, document, why_not_rule, pin, decision)
                      if why_not_rule else None)
        except AturanError as exc:
            failed += 1
            if fmt == "json":
                click.echo(canonical_json({**error_body(exc), "line": number}))
            else:
                if batch is not None:
                    batch.flush(final=True)  # keep the order of stdout and stderr lines
                err.print(f"[red]line {number}: invalid input[/]")
                print_diagnostics(err, exc.diagnostics)
            continue
        if fmt == "json":
            click.echo(canonical_json(report.to_dict()) if report else decision.to_json())
        else:
            print_decision(out, decision, lang or "en")
            for line in format_why_not(report) if report else ():
                out.print(escape(line))
    if batch is not None:
        batch.flush(final=True)
    sys.stdout.flush()
    if failed:
        raise click.exceptions.Exit(1)


# Text Rich would print differently from its markup with the tags taken out: tabs (expanded),
# control characters (dropped), escapes; and `:name:` emoji codes (checked with Rich's own)
_RICH_ONLY = re.compile(r"[\t\x00-\x1f\x7f\\]")


class PlainConsole:
    """What `print_decision` needs of a Console, for output that is no terminal: markup tags
    taken out by Rich's own parser, and lines Rich would change in any other way (`_RICH_ONLY`)
    printed by `rich` itself, so the text is byte for byte Rich's, at a fraction of the cost
    (Rich renders every line through segments, styles and measurements)."""

    is_terminal = False

    def __init__(self, stream: _Batched, rich: Console):
        self.stream = stream
        self.rich = rich

    def print(self, *objects: Any, **settings: Any) -> None:
        markup = " ".join(str(o) for o in objects)
        if (_RICH_ONLY.search(markup) or not all(isinstance(o, str) for o in objects)
                or (":" in markup and _emoji_replace(markup) != markup)):
            self.rich.print(*objects, **settings)
            return
        if "[" in markup:
            markup = "".join(text for _, text, _tag in _parse_markup(markup) if text is not None)
        self.stream.write(markup + "\n")
        self.stream.flush()


class _Batched:
    """A text stream for Rich that writes to `target` in blocks: Rich flushes after every
    print, which for a file or a pipe cost a system call per line (the text format of 280k
    orders took minutes); the size and colour a Console would probe per print are fixed once."""

    BLOCK = 1 << 16

    def __init__(self, target: Any):
        self.target = target
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.size += len(text)
        return len(text)

    def flush(self, final: bool = False) -> None:
        if self.size >= self.BLOCK or final:
            self.target.write("".join(self.parts))
            self.parts.clear()
            self.size = 0
            self.target.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self.target, "encoding", "utf-8")
