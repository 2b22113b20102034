"""The `--decision-log*` options `aturan decide` and `aturan serve` share, and opening the log
they describe (docs/decision-log.md)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..audit import DecisionLog, LogSettings, LogSettingsError
from ..audit.writer import MIB
from ..runtime.evaluate import Policies
from .common import default_rulesets


def decision_log_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--decision-log", "decision_log", type=click.Path(dir_okay=False),
                     default=None, envvar="ATURAN_DECISION_LOG",
                     help="Write one JSON Lines record per decision here (rotated and gzipped "
                          "beside it, with an archive of the ruleset texts); decisions then "
                          "carry a decision_id."),
        click.option("--decision-log-max-bytes", "log_max_bytes", type=click.IntRange(min=1024),
                     default=64 * MIB, show_default=True,
                     help="Rotate the decision log when it would grow past this."),
        click.option("--decision-log-when-full", "log_when_full",
                     type=click.Choice(["block", "drop"]), default="block", show_default=True,
                     help="When the log's queue is full: wait for the writer (block) or drop "
                          "the record and count it (drop)."),
        click.option("--decision-log-queue", "log_queue", type=click.IntRange(min=1),
                     default=10_000, show_default=True,
                     help="Records that may wait for the log's writer thread."),
        click.option("--decision-log-mask", "log_masks", multiple=True, metavar="POINTER[=erase|hmac]",
                     help="Also mask this JSON pointer in logged input (* matches any key or "
                          "index), e.g. /order/items/*/sku. Repeatable."),
        click.option("--decision-log-key-file", "log_key_file",
                     type=click.Path(exists=True, dir_okay=False), default=None,
                     help="HMAC key for masked ids (default: $ATURAN_DECISION_LOG_KEY; without "
                          "a key, such fields are erased)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def log_settings(decision_log: str | None, log_max_bytes: int, log_when_full: str,
                 log_queue: int, log_masks: tuple[str, ...], log_key_file: str | None
                 ) -> LogSettings | None:
    """The settings the options give (None without --decision-log); bad values are usage
    errors."""
    if decision_log is None:
        if log_masks or log_key_file:
            raise click.UsageError("--decision-log-mask and --decision-log-key-file need "
                                   "--decision-log PATH")
        return None
    try:
        settings = LogSettings(Path(decision_log).resolve(), log_max_bytes, log_when_full,
                               log_queue, tuple(log_masks),
                               Path(log_key_file).resolve() if log_key_file else None)
        settings.check()  # an unwritable path or unreadable key: a usage error, before deciding
    except LogSettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    return settings


def attach_log(policies: Policies, rulesets_dir: str | None, **options: Any) -> Policies:
    """`policies` reporting to the decision log the `--decision-log*` options describe (as
    they are, without --decision-log). The log closes (everything queued written) when the
    command ends, however it ends, and on SIGTERM, which then ends it with status 143."""
    settings = log_settings(**options)
    if settings is None:
        return policies
    try:
        log = settings.open()
    except (OSError, LogSettingsError) as exc:
        raise click.UsageError(f"cannot open the decision log {settings.path}: {exc}") from exc
    click.get_current_context().call_on_close(lambda: _close(log))
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    return log.attach(policies, [rulesets_dir or default_rulesets()])


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _close(log: DecisionLog) -> None:
    log.close()
    if log.dropped:
        click.echo(f"decision log: {log.dropped:,} records dropped", err=True)
