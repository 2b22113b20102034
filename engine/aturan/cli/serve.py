"""`aturan serve`: the HTTP decision service on uvicorn, with one or more worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import click

from .common import default_rulesets, load_or_exit, rulesets_option

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
@click.option("--playground/--no-playground", default=False, envvar="ATURAN_PLAYGROUND",
              help="Also serve /playground: a page to edit a ruleset and see its decisions.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
def serve(host: str, port: int, rulesets_dir: str | None, workers: int, watch: bool,
          watch_interval: float, max_body_bytes: int, batch_limit: int, playground: bool,
          log_level: str) -> None:
    """Serve decisions over HTTP: POST /v1/decisions, POST /v1/decisions:batch, GET /v1/rulesets,
    /healthz, /metrics, /openapi.json. Rulesets are checked before the server starts."""
    try:
        import uvicorn

        from ..service import ServiceConfig, create_app
        from ..service.logs import uvicorn_log_config
    except ImportError as exc:
        raise click.UsageError(f"aturan serve needs the serve extra ({exc.name} is missing): "
                               "pip install 'aturan[serve]'") from exc
    policies = load_or_exit(rulesets_dir)  # invalid rulesets: every error printed, exit 1
    config = ServiceConfig(rulesets=Path(rulesets_dir or default_rulesets()).resolve(),
                           max_body_bytes=max_body_bytes, batch_limit=batch_limit, watch=watch,
                           watch_interval=watch_interval, handle_sighup=True,
                           playground=playground)
    log_config = uvicorn_log_config(log_level)
    try:
        if workers == 1:
            uvicorn.run(create_app(config, policies), host=host, port=port,
                        log_config=log_config, log_level=log_level, access_log=False)
        else:
            policies.close()  # checked; each worker loads its own copy
            _run_workers(config, host, port, workers, log_config, log_level)
    except SystemExit as exc:  # uvicorn exits 1 or 3 when it cannot start (port in use, ...)
        if exc.code not in (None, 0):
            raise click.exceptions.Exit(1) from None  # uvicorn has printed why
        raise


def _run_workers(config, host: str, port: int, workers: int, log_config: dict,
                 log_level: str) -> None:
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
                                       port=port, workers=workers, log_config=log_config,
                                       log_level=log_level, access_log=False)
        ForwardHup(server_config, sockets=[server_config.bind_socket()]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
