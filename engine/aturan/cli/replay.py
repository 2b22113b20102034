"""`aturan replay LOG...`: decision log records derived again (docs/decision-log.md).

`--verify` re-derives every record from its input, `now` and ruleset digest (the text from
the archive beside the log) and checks the hash chain: exit 1, naming each record, on any
difference, break or gap. `--against NAME@VERSION` is `aturan diff` over logged traffic: what
that version would have decided instead. `--show DECISION_ID` renders one logged decision
again, explanation included, in either language. `--workers N` / `--cluster local:N |
tcp://HOST:PORT` replay --verify and --against in partitions (`audit.replay_partitioned`), with
the same report."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from ..audit.archive import RulesetArchive
from ..audit.chain import ChainCheck, LogLine, log_files, read_file
from ..audit.replay import (
    LOGGED,
    Mismatch,
    Resolver,
    against_record,
    catalogue_of,
    verify_record,
)
from ..audit.replay_partitioned import ChainMerge, run_against, run_verify
from ..errors import AturanError, RulesetError, SelectionError
from ..regression.cluster import MAX_LOCAL_WORKERS
from ..regression.diff import FILE_STRIDE, DiffSummary, check_pins
from ..regression.partitioned import Rulesets
from ..runtime.decision import canonical_json
from .common import console, default_rulesets, load_or_exit, print_diagnostics, rulesets_option
from .diff import render_text
from .render import print_decision
from .scale import cluster_options, executor, fail, parse_size, progress_bar


def _lines(files: list[Path]) -> Iterator[LogLine]:
    for path in files:
        try:
            yield from read_file(path)
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror}",
                                     param_hint="LOG") from exc


def _archives(files: list[Path], given: tuple[str, ...]) -> list[RulesetArchive]:
    if given:  # absolute, so that workers elsewhere find them and every report names them alike
        return [RulesetArchive(Path(a).resolve()) for a in given]
    return [RulesetArchive.beside(folder / "x") for folder in dict.fromkeys(
        f.resolve().parent for f in files)]


@click.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True), metavar="LOG...")
@click.option("--verify", is_flag=True, help="Re-derive every record and check the hash chain; "
                                             "exit 1 on any difference, break or gap.")
@click.option("--against", "against", metavar="NAME@VERSION",
              help="What this version would decide for the logged inputs, as `aturan diff` "
                   "reports it.")
@click.option("--show", "show_id", metavar="DECISION_ID",
              help="Render one logged decision again, with its explanation.")
@click.option("--archive", "archives", multiple=True, type=click.Path(exists=True,
                                                                       file_okay=False),
              help="Ruleset archive folder (default: aturan-rulesets/ beside each LOG).")
@click.option("--lang", type=click.Choice(["en", "id"]), default=None,
              help="--show: the language of the explanation.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--fail-on-change", is_flag=True, help="--against: exit 1 when any decision "
                                                     "changes.")
@click.option("--workers", type=click.IntRange(min=1, max=MAX_LOCAL_WORKERS), default=None,
              help="--verify/--against: replay in partitions on N worker processes (1: in "
                   "this process); the report is the same.")
@click.option("--progress/--no-progress", "show_progress", default=True,
              help="Progress bar on stderr with --workers/--cluster (only on a terminal).")
@cluster_options
@rulesets_option
def replay(logs: tuple[str, ...], verify: bool, against: str | None, show_id: str | None,
           archives: tuple[str, ...], lang: str | None, fmt: str, fail_on_change: bool,
           workers: int | None, show_progress: bool, cluster: str | None, block_size: str,
           rulesets_dir: str | None) -> None:
    """Re-derive logged decisions (--verify), compare them with another version (--against),
    or show one again (--show). LOG: decision log files (.jsonl, .jsonl.gz) or folders."""
    modes = [m for m in (verify, against, show_id) if m]
    if len(modes) != 1:
        raise click.UsageError("give one of --verify, --against NAME@VERSION, --show ID")
    partitioned = workers is not None or cluster is not None
    if show_id and partitioned:
        raise click.UsageError("--show reads one record: drop --workers/--cluster")
    files = log_files(logs)
    if not files:
        raise click.BadParameter("no decision log files (*.jsonl, *.jsonl.gz) there",
                                 param_hint="LOG")
    roots = [rulesets_dir or default_rulesets()]
    if partitioned:
        size = parse_size(block_size)
        return _partitioned(files, against, _archives(files, archives), roots, fmt,
                            fail_on_change, cluster, workers or 1, size, show_progress)
    if against:
        return _against(files, against, fmt, fail_on_change, rulesets_dir)
    resolver = Resolver(_archives(files, archives), roots)
    try:
        if show_id:
            return _show(files, resolver, show_id, lang, fmt)
        return _verify(files, resolver, fmt)
    finally:
        resolver.close()


def _verify(files: list[Path], resolver: Resolver, fmt: str) -> None:
    chain = ChainCheck()
    mismatches: list[Mismatch] = []
    for line in _lines(files):
        chain.feed(line)
        if line.record is not None:
            found = verify_record(resolver, line.record, line.where)
            if found is not None:
                mismatches.append(found)
    _verify_report(files, chain, mismatches, fmt)


def _verify_report(files: list[Path], chain: ChainCheck | ChainMerge,
                   mismatches: list[Mismatch], fmt: str) -> None:
    failed = bool(mismatches) or chain.failed
    if fmt == "json":
        click.echo(canonical_json({"ok": not failed, "files": [str(f) for f in files],
                                   "records": chain.records,
                                   "rederived": chain.records - len(mismatches),
                                   "mismatches": [m.to_dict() for m in mismatches],
                                   "chain": [p.to_dict() for p in chain.problems],
                                   "chains": chain.summary()}))
    else:
        out = console()
        out.print(f"{chain.records:,} records in {len(files)} file"
                  f"{'s' if len(files) != 1 else ''}: "
                  f"{chain.records - len(mismatches):,} re-derived identically, "
                  f"{len(mismatches):,} not", highlight=False)
        for item in chain.summary():
            start = "" if item["complete_start"] else " (earlier records not given)"
            out.print(f"  chain {item['chain']}: seq {item['first_seq']:,}–{item['last_seq']:,}"
                      f"{start}, head {item['head']}", highlight=False)
        for problem in chain.problems:
            label = "FAIL" if problem.failure else "note"
            out.print(escape(f"{label} {problem.kind}: {problem.where}"
                             + (f" decision {problem.decision_id}" if problem.decision_id else "")
                             + f": {problem.message}"), highlight=False, soft_wrap=True)
        for m in mismatches:
            out.print(escape(f"FAIL {m.kind}: {m.where} decision {m.decision_id}: {m.message}"),
                      highlight=False, soft_wrap=True)
    sys.stdout.flush()
    if failed:
        raise click.exceptions.Exit(1)


def _show(files: list[Path], resolver: Resolver, decision_id: str, lang: str | None,
          fmt: str) -> None:
    for line in _lines(files):
        record = line.record
        if record is None or record.get("decision_id") != decision_id:
            continue
        rs = record["ruleset"]
        base = rs.get("extends")
        found = resolver.policies(rs["digest"], base["digest"] if base else None,
                                  catalogue_of(record))
        if isinstance(found, str):
            raise click.ClickException(found)
        try:
            decision = found[0].decide(record["input"], f"{rs['name']}@{rs['version']}", lang)
        except AturanError as exc:
            raise click.ClickException(f"{line.where}: cannot re-derive decision "
                                       f"{decision_id}: {exc.first.full_message}") from exc
        mismatch = verify_record(resolver, record, line.where)
        if fmt == "json":
            click.echo(canonical_json({**decision.to_dict(), "decision_id": decision_id}))
        else:
            out = console()
            out.print(f"[dim]decision {escape(decision_id)} · made {record.get('made_at')} · "
                      f"{escape(line.where)}[/]")
            print_decision(out, decision, lang or "en")
        if mismatch is not None:
            click.echo(f"note: this no longer matches the log: {mismatch.message}", err=True)
            raise click.exceptions.Exit(1)
        return
    raise click.ClickException(f"no record with decision_id {decision_id} in "
                               f"{', '.join(str(f) for f in files)}")


def _against(files: list[Path], pin: str, fmt: str, fail_on_change: bool,
             rulesets_dir: str | None) -> None:
    policies = load_or_exit(rulesets_dir)
    try:
        check_pins(policies.collection, pin)
    except SelectionError as exc:
        raise click.BadParameter(exc.first.full_message, param_hint="--against") from exc
    summary = DiffSummary(LOGGED, pin)
    chain = ChainCheck()
    sources = [str(f) for f in files]
    for index, path in enumerate(files):
        for line in _lines([path]):
            chain.feed(line)
            if line.record is not None:  # positions as `aturan diff` numbers several inputs
                against_record(policies, pin, index * FILE_STRIDE + line.number, line.record,
                               summary)
    policies.close()
    _against_report(summary, chain, sources, fmt, fail_on_change)


def _against_report(summary: DiffSummary, chain: ChainCheck | ChainMerge, sources: list[str],
                    fmt: str, fail_on_change: bool) -> None:
    if chain.failed:
        click.echo("warning: the log's hash chain is broken (aturan replay --verify says "
                   "where)", err=True)
    source = ", ".join(sources)
    if fmt == "json":
        click.echo(canonical_json({**_by_decision(summary.to_dict(sources)), "source": source}))
    else:
        out = console()
        for text in render_text(summary, source, sources):
            out.print(escape(text), soft_wrap=True, highlight=False)
    if fail_on_change and summary.changed:
        raise click.exceptions.Exit(1)


def _partitioned(files: list[Path], against: str | None, archives: list[RulesetArchive],
                 roots: list[str | Path], fmt: str, fail_on_change: bool, cluster: str | None,
                 workers: int, block_size: int, show_progress: bool) -> None:
    """--verify or --against in partitions, on `--workers` processes or `--cluster`."""
    try:
        rulesets = Rulesets.of(roots, against) if against else None
    except SelectionError as exc:
        raise click.BadParameter(exc.first.full_message, param_hint="--against") from exc
    except RulesetError as exc:
        print_diagnostics(console(err=True), exc.diagnostics)
        raise click.exceptions.Exit(1) from exc
    total = sum(f.stat().st_size for f in files)
    try:
        with executor(cluster, workers) as chosen, \
                progress_bar("replay", total, show_progress) as advance:
            if rulesets is not None and against is not None:
                summary, chain = run_against(chosen, files, rulesets, against, block_size,
                                             advance)
            else:
                report = run_verify(chosen, files, [str(a.root) for a in archives], roots,
                                    block_size, advance)
    except AturanError as exc:  # the cluster (unreachable, a worker that keeps dying)
        raise fail(exc) from exc
    except OSError as exc:
        raise click.BadParameter(f"cannot read {exc.filename}: {exc.strerror}",
                                 param_hint="LOG") from exc
    if rulesets is not None:
        return _against_report(summary, chain, [str(f) for f in files], fmt, fail_on_change)
    _verify_report(files, report.chain, report.mismatches, fmt)


def _by_decision(report: dict[str, Any]) -> dict[str, Any]:
    """`aturan diff`'s JSON with examples named by decision id (and their file and line)."""
    for key in ("by_outcome", "by_rule", "invalid_orders"):
        for row in report[key]:
            row["examples"] = [{**{k: v for k, v in e.items() if k != "order_id"},
                                "decision_id": e["order_id"]} for e in row["examples"]]
    return report
