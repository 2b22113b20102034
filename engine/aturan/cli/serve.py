"""`aturan serve`: the HTTP decision service on uvicorn, with one or more worker processes."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from ..runtime.probe import probe
from .common import console, default_rulesets, load_or_exit, rulesets_option
from .logopts import decision_log_options, log_settings

MIB = 1024 * 1024


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@rulesets_option
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes; each has its own engine, so throughput scales with cores.")
@click.option("--watch/--no-watch", default=False, envvar="ATURAN_WATCH",
              help="Reload when a ruleset file changes (polls mtimes). SIGHUP always reloads.")
@click.option("--watch-interval", type=click.FloatRange(min=0.05), default=1.0,
              show_default=True, envvar="ATURAN_WATCH_INTERVAL", help="Seconds between polls.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=MIB, show_default=True,
              envvar="ATURAN_MAX_BODY_BYTES", help="Larger request bodies get 413.")
@click.option("--batch-limit", type=click.IntRange(min=1), default=1000, show_default=True,
              envvar="ATURAN_BATCH_LIMIT", help="Most items in one batch request.")
@click.option("--memo-capacity", type=click.IntRange(min=1), default=None,
              envvar="ATURAN_MEMO_CAPACITY",
              help="Keys each compiled ruleset's memo holds (engine answers kept; least "
                   "recently used dropped first). Default 8192.")
@click.option("--header-timeout", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True, help="Seconds a connection has to send a request's headers.")
@click.option("--body-timeout", type=click.FloatRange(min=0.1), default=30.0,
              show_default=True, envvar="ATURAN_BODY_TIMEOUT",
              help="Seconds a request has to send its whole body; then 408.")
@click.option("--keep-alive-timeout", type=click.FloatRange(min=0.1), default=20.0,
              show_default=True,
              help="Seconds an idle keep-alive connection stays open. Keep it longer than "
                   "your clients' idle expiry (httpx 5 s, aiohttp 15 s), or a client may reuse "
                   "a connection just as the server closes it and lose that request.")
@click.option("--max-connections", type=click.IntRange(min=1), default=1000,
              show_default=True, help="Open connections per worker; more are answered 503.")
@click.option("--probe-timeout", type=click.FloatRange(min=0), default=60.0,
              show_default=True, envvar="ATURAN_PROBE_TIMEOUT",
              help="Seconds a probe process may take to build the rulesets before this "
                   "process does, at start and on each reload (0: no probe).")
@click.option("--playground/--no-playground", default=False, envvar="ATURAN_PLAYGROUND",
              help="Also serve /playground: a page to edit a ruleset and see its decisions.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@decision_log_options
def serve(host: str, port: int, rulesets_dir: str | None, workers: int, watch: bool,
          watch_interval: float, max_body_bytes: int, batch_limit: int, memo_capacity: int | None,
          header_timeout: float, body_timeout: float, keep_alive_timeout: float,
          max_connections: int, probe_timeout: float, playground: bool, log_level: str,
          **log_options) -> None:
    """Serve decisions over HTTP: POST /v1/decisions, POST /v1/decisions:batch, GET /v1/rulesets,
    /healthz, /metrics, /openapi.json. Rulesets are checked before the server starts."""
    try:
        import uvicorn

        from ..service import ServiceConfig, create_app
        from ..service.logs import uvicorn_log_config
        from ..service.protocol import guarded
    except ImportError as exc:
        raise click.UsageError(f"aturan serve needs the serve extra ({exc.name} is missing): "
                               "pip install 'aturan[serve]'") from exc
    decision_log = log_settings(**log_options)
    if decision_log is not None and workers > 1:  # one file (one chain) per worker process
        decision_log = dataclasses.replace(decision_log, per_process=True)
    # not resolved: a deploy that swaps a symlinked rulesets folder must be seen by reloads
    root = Path(rulesets_dir or default_rulesets()).absolute()
    if probe_timeout:  # the engine holds the GIL: build in a child first, which can be killed
        result = probe(root, probe_timeout)
        if not result.ok:
            console(err=True).print(f"[red]{escape(str(root))}: engine-probe: "
                                    f"{escape(result.problem)}[/]", soft_wrap=True)
            raise click.exceptions.Exit(1)
    # invalid rulesets: every error printed, exit 1. Loaded from `root`, as every reload and
    # every worker loads: one name per file, so a reload changes no decision's `source.file`
    # and the playground finds the served versions' texts under the folder it watches
    policies = load_or_exit(str(root), memo_capacity=memo_capacity)
    config = ServiceConfig(rulesets=root, max_body_bytes=max_body_bytes,
                           batch_limit=batch_limit, watch=watch, watch_interval=watch_interval,
                           handle_sighup=True, memo_capacity=memo_capacity,
                           playground=playground, probe_timeout=probe_timeout,
                           body_timeout=body_timeout, decision_log=decision_log)
    settings: dict[str, Any] = dict(
        log_config=uvicorn_log_config(log_level), log_level=log_level, access_log=False,
        http=guarded(header_timeout, max_connections), timeout_keep_alive=keep_alive_timeout,
        limit_concurrency=max_connections)
    try:
        if workers == 1:
            uvicorn.run(create_app(config, policies), host=host, port=port, **settings)
        else:
            policies.close()  # checked; each worker loads its own copy
            _run_workers(config, host, port, workers, settings)
    except SystemExit as exc:  # uvicorn exits 1 or 3 when it cannot start (port in use, ...)
        if exc.code not in (None, 0):
            raise click.exceptions.Exit(1) from None  # uvicorn has printed why
        raise


def bind_socket(server_config: Any) -> socket.socket:
    """uvicorn's pre-bound socket for its workers, with TCP_NODELAY set (uvicorn issue #3149):
    uvicorn creates it with protocol 0, so asyncio does not recognise it as TCP and never sets
    TCP_NODELAY on the connections accepted from it; each response then waited ~40 ms for the
    client's delayed ACK. Accepted sockets inherit the option from the listening one."""
    sock = server_config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _run_workers(config, host: str, port: int, workers: int, settings: dict[str, Any]) -> None:
    """uvicorn's multi-process supervisor, started from the import string of the app factory
    (workers are fresh processes, configured through the environment). SIGHUP to this process
    is passed on to every worker, which reloads in place: uvicorn's own SIGHUP would restart the
    workers, and a restart cannot keep serving the old set or report a broken file in /healthz."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class ForwardHup(Multiprocess):
        def handle_hup(self) -> None:
            for process in self.processes:
                if process.pid is not None:
                    try:
                        os.kill(process.pid, signal.SIGHUP)
                    except ProcessLookupError:
                        pass

    metrics_dir = tempfile.mkdtemp(prefix="aturan-metrics-")
    os.environ.update(config.to_env())
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # counts summed over workers
    try:
        server_config = uvicorn.Config("aturan.service:app_from_env", factory=True, host=host,
                                       port=port, workers=workers, **settings)
        ForwardHup(server_config, sockets=[bind_socket(server_config)]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
