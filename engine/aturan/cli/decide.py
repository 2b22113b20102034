"""`aturan decide FACTS.json|-`: one decision, or JSON Lines in -> JSON Lines out; and
`aturan decide ORDERS... --out DIR`: a batch, JSON Lines out per partition, in this process or on
a Dask cluster (`--cluster`). `--decision-log` logs either: one log for one process, one log per
partition for a batch."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape

from ..analysis.reference import format_why_not, known_rule, why_not
from ..audit.batch import BatchLogs
from ..audit.settings import LogSettings
from ..errors import AturanError, FactsError, RulesetError, SelectionError, error_body
from ..regression.cluster import ClusterError
from ..regression.inputs import InputError
from ..regression.partitioned import DecideJob, Rulesets, partitions, run_decide_partitioned
from ..runtime.decision import canonical_json
from ..runtime.jsonio import read_stream
from .common import console, default_rulesets, load_or_exit, rulesets_option
from .logopts import attach_log, decision_log_options, log_settings
from .plain import plain_console
from .render import print_decision, print_diagnostics
from .scale import cluster_options, executor, fail, parse_size, progress_bar

_BLOCK = 256  # JSON lines per write


def _write(lines: list[str]) -> None:
    """Write and forget `lines`, each ended by a newline, in one call."""
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        lines.clear()


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FACTS_FILE|ORDERS...")
@click.option("--ruleset", "pin", metavar="NAME[@VERSION]",
              help="Use this ruleset (version) instead of the one in force at request.at.")
@click.option("--lang", type=click.Choice(["en", "id"]), default=None,
              help="Language of explanation messages (default: both in JSON, en in text).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--why-not", "why_not_rule", metavar="RULE_ID",
              help="Show, condition by condition, why RULE_ID did or did not fire (with --format "
                   "json: the report instead of the decision).")
@click.option("--out", "out_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Batch: decide ORDERS (JSON Lines files, globs, .gz, Parquet) into DIR, one "
                   "JSON Lines file per partition and manifest.json.")
@click.option("--progress/--no-progress", "show_progress", default=True,
              help="--out: progress bar on stderr (only on a terminal).")
@cluster_options
@rulesets_option
@decision_log_options
def decide(inputs: tuple[str, ...], pin: str | None, lang: str | None, fmt: str,
           why_not_rule: str | None, out_dir: str | None, show_progress: bool,
           cluster: str | None, block_size: str, rulesets_dir: str | None,
           **log_options) -> None:
    """Decide order FACTS_FILE (JSON, or JSON Lines for many; - reads stdin), or with --out
    every order of ORDERS into DIR."""
    if out_dir is not None:
        if why_not_rule:
            raise click.UsageError("--why-not explains one order; it does not go with --out")
        return _batch(list(inputs), out_dir, pin, lang, show_progress, cluster, block_size,
                      rulesets_dir, log_settings(**log_options))
    if len(inputs) > 1 or cluster is not None:
        raise click.UsageError("several inputs, or --cluster, need --out DIR (a batch writes "
                               "JSON Lines files there)")
    facts_file = click.File("rb").convert(inputs[0], None, click.get_current_context())
    policies = attach_log(load_or_exit(rulesets_dir), rulesets_dir, **log_options)
    if why_not_rule:  # a rule no version has is a usage error (exit 2), not a bad order
        try:
            known_rule(policies.collection, why_not_rule, pin)
        except SelectionError as exc:
            raise click.BadParameter(exc.first.full_message, param_hint="--why-not") from exc
    name = getattr(facts_file, "name", "-")
    source = "<stdin>" if name in ("-", "<stdin>", 0) else str(name)
    out: Any = console()
    err = console(err=True)
    batch = None
    if fmt == "text" and not out.is_terminal:  # a file or a pipe: the same text, much faster
        out, batch = plain_console(sys.stdout, out)
    failed = 0
    lines: list[str] = []  # JSON Lines written in blocks: click.echo flushes every line
    # streamed: one line read, decided and written at a time, so memory does not grow with
    # the input; a bad line (JSON, UTF-8, size) is reported by its number and the run goes on.
    # Without --why-not a JSON Lines line is read by `decide_text` (orjson when provably exact)
    for number, document in read_stream(facts_file, source, as_bytes=not why_not_rule):
        try:
            if isinstance(document, FactsError):
                raise document
            if why_not_rule:
                decision = policies.decide(document, pin, lang)
                report = why_not(policies, document, why_not_rule, pin, decision)
            elif isinstance(document, bytes):
                decision = policies.decide_text(document, pin, lang, source=source, line=number)
                report = None
            else:  # a pretty-printed document, read whole
                decision = policies.decide(document, pin, lang)
                report = None
        except AturanError as exc:
            failed += 1
            if fmt == "json":
                lines.append(canonical_json({**error_body(exc), "line": number}))
            else:
                if batch is not None:
                    batch.flush(final=True)  # keep the order of stdout and stderr lines
                err.print(f"[red]line {number}: invalid input[/]")
                print_diagnostics(err, exc.diagnostics)
            continue
        if fmt == "json":
            lines.append(canonical_json(report.to_dict()) if report else decision.to_json())
            if len(lines) >= _BLOCK:
                _write(lines)
        else:
            print_decision(out, decision, lang or "en")
            for line in format_why_not(report, lang) if report else ():
                out.print(escape(line))
    _write(lines)
    if batch is not None:
        batch.flush(final=True)
    sys.stdout.flush()
    if failed:
        raise click.exceptions.Exit(1)


def _batch(names: list[str], out_dir: str, pin: str | None, lang: str | None,
           show_progress: bool, cluster: str | None, block_size: str,
           rulesets_dir: str | None, log: LogSettings | None = None) -> None:
    """Every order of `names` decided into `out_dir/part-NNNNN.jsonl` (decisions and error
    lines, in input order) and `manifest.json`; a summary line on stderr, with the first bad
    lines located `file:line`; exit 1 if any order could not be decided, as for one file.
    With `log`, each partition logs its decisions in its own log beside it
    (`audit.batch.BatchLogs`)."""
    if "-" in names:
        raise click.UsageError("a batch reads files (stdin cannot be partitioned); without "
                               "--out, `aturan decide -` reads stdin")
    err = console(err=True)
    try:
        rulesets = Rulesets.of([rulesets_dir or default_rulesets()],
                               *([pin] if pin and "@" in pin else []))
        logs = None if log is None else BatchLogs.new(log, rulesets.paths)
        with executor(cluster) as chosen:
            layout = partitions(chosen, names, parse_size(block_size))
            with progress_bar("decide", layout.nbytes, show_progress) as advance:
                run = run_decide_partitioned(
                    chosen, DecideJob(rulesets, out_dir, pin, lang, logs), layout, advance)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="ORDERS") from exc
    except SelectionError as exc:
        raise click.BadParameter(exc.first.full_message, param_hint="--ruleset") from exc
    except ClusterError as exc:
        raise fail(exc) from exc
    except OSError as exc:  # the output folder, or an input gone since it was listed
        click.echo(f"aturan: {exc.filename or out_dir}: {exc.strerror or exc}", err=True)
        raise click.exceptions.Exit(1) from exc
    except (RulesetError, AturanError) as exc:
        print_diagnostics(err, exc.diagnostics)
        raise click.exceptions.Exit(1) from exc
    click.echo(f"{run.decided + run.invalid:,} orders: {run.decided:,} decided, "
               f"{run.invalid:,} invalid, in {len(run.outputs)} file(s) under {out_dir}", err=True)
    if logs is not None:
        logs.clean()
        click.echo(f"decision log: one per partition, {logs.pattern()}", err=True)
    errors = [e for _, r in sorted(run.outputs, key=lambda pr: pr[0].index) for e in r.errors]
    for line in errors[:5]:
        click.echo(f"  {line}", err=True)
    if run.invalid:
        raise click.exceptions.Exit(1)
