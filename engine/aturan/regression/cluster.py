"""The partitioned runners (`partitioned`) on a Dask cluster: `local:N` starts a `LocalCluster`
of N single-threaded worker processes on this machine, `tcp://HOST:PORT` (or any address Dask
reads: tls://, ws://) joins the scheduler of a cluster that already runs.

Why Dask: it installs as pure Python (`pip install 'aturan[cluster]'`), runs a real cluster
in CI without a JVM or shared memory, and reschedules the task of a worker that dies on
another worker (up to `distributed.scheduler.allowed-failures` times, 3 by default); our
tasks are pure functions of (job, partition), so a rerun gives the same result.

Workers must run one thread each (`dask worker ADDRESS --nthreads 1 --nworkers N`):
durable_rules is process-global C state, not thread-safe, so `runtime._engine` holds one lock
per process and extra threads only wait. Workers read the inputs and the rulesets from the
paths the caller names, so on a cluster of several machines those paths must be the same
everywhere (a shared filesystem, or the same image); a worker that finds other rulesets there
refuses to decide (`partitioned.policies_for`). Nothing here imports Dask until a cluster is
asked for, so aturan runs without it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..errors import Diagnostic, EngineError, Location
from .inputs import Partition

J = TypeVar("J")
R = TypeVar("R")

_LOCAL = re.compile(r"^local:(\d+)$")
# what `distributed.Client` can connect to from a command line: a scheme its comms have
# (inproc is in-process only; ucx/ucxx with distributed-ucxx installed) and HOST:PORT, an IPv6
# host in brackets, with its zone if any
_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx|ucxx)://(\[[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?\]"
                      r"|[A-Za-z0-9._-]+):(\d{1,5})$")
MAX_LOCAL_WORKERS = 256  # local:N, --workers N: beyond, a typo (local:80 -> local:8000)
# a run whose cluster has had no worker this long ends (`DaskExecutor.map`): long enough for
# an adaptive cluster scaled to zero to start one, short of the for ever Dask would wait
NO_WORKERS_SECONDS = 120.0


class ClusterError(EngineError):
    """The cluster cannot be used: Dask is missing, the scheduler cannot be reached, or a
    partition kept killing its workers. Its message is one line."""


def check_spec(spec: str) -> str:
    """`spec` if it is `local:N` (1 <= N <= `MAX_LOCAL_WORKERS`) or a scheduler address
    SCHEME://HOST:PORT, else a `ValueError` saying what is accepted (a usage error). Checked
    before Dask sees it: Dask raised a traceback for `tcp://host:notaport`, `foo://x`, ….
    """
    local = _LOCAL.match(spec)
    if local and int(local.group(1)) >= 1:
        if int(local.group(1)) <= MAX_LOCAL_WORKERS:
            return spec
        raise ValueError(f"{spec!r}: local:N starts N worker processes on this machine, from 1 "
                         f"to {MAX_LOCAL_WORKERS:,}; for more, start a cluster and give its "
                         "scheduler's address")
    address = None if local else _ADDRESS.match(spec)
    if address and 1 <= int(address.group(4)) <= 65535:
        return spec
    raise ValueError(f"{spec!r} is neither local:N (N worker processes here) nor a scheduler "
                     "address such as tcp://HOST:8786 (schemes: tcp, tls, ws, wss, ucx; a port from "
                     "1 to 65535)")


def _one_line(exc: BaseException) -> str:
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


def _no_workers_seconds() -> float:
    """Dask's `distributed.scheduler.no-workers-timeout` if set, else `NO_WORKERS_SECONDS`."""
    import dask
    from dask.utils import parse_timedelta
    configured = dask.config.get("distributed.scheduler.no-workers-timeout", None)
    seconds = parse_timedelta(configured, default="s") if configured is not None else None
    return float(seconds) if seconds else NO_WORKERS_SECONDS


def _error(code: str, message: str) -> ClusterError:
    return ClusterError(Diagnostic(code, message, Location()))


def _dask() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise _error("cluster-missing", "--cluster needs Dask: pip install 'aturan[cluster]'"
                     ) from exc
    return distributed


class DaskExecutor:
    """A `partitioned.Executor` on a Dask client. Each partition is one task; only the
    partition's description travels to the worker, which reads the orders itself."""

    def __init__(self, client: Any, cluster: Any = None, spec: str = ""):
        self.client, self._cluster, self.spec = client, cluster, spec

    def threads(self) -> dict[str, int]:
        """Threads per worker address, as the scheduler knows them now."""
        return dict(self.client.nthreads())

    def map(self, task: Callable[[J, Partition], R], job: J, parts: Sequence[Partition]
            ) -> Iterator[tuple[Partition, R]]:
        """Each partition's result as it finishes. A cluster left with no worker for
        `_no_workers_seconds()` (all died and none restarts, or none ever joined) ends the run
        with `cluster-no-workers`: Dask would keep the tasks waiting for a worker for ever."""
        if not parts:
            return
        distributed = _dask()
        name = getattr(task, "__name__", "task").replace("_", "-")
        # keys of this call alone: a second map of the same task just after one given up on
        # would otherwise meet the first one's futures while they are being cancelled
        run = uuid.uuid4().hex[:12]
        keys = [f"aturan-{name}-{run}-{p.index}" for p in parts]
        futures = self.client.map(task, [job] * len(parts), list(parts), key=keys, pure=False)
        by_key = {future.key: part for future, part in zip(futures, parts)}
        watch = _Starvation(self.client, futures, _no_workers_seconds())
        watch.start()
        try:
            for future in distributed.as_completed(futures):
                if watch.starved:
                    raise self._starved(watch.seconds)
                try:
                    result = future.result()
                except distributed.client.FutureCancelledError as exc:
                    if watch.starved:
                        raise self._starved(watch.seconds) from exc
                    raise _error("cluster-lost", f"the cluster cancelled partition "
                                 f"{_where(by_key[future.key])}: {_one_line(exc)}") from exc
                except distributed.KilledWorker as exc:
                    raise _error("cluster-worker-died", "workers died running partition "
                                 f"{_where(by_key[future.key])} each time Dask retried it; "
                                 "see the workers' logs (memory limit?)") from exc
                except (distributed.scheduler.NoValidWorkerError,
                        distributed.scheduler.NoWorkerError) as exc:  # the scheduler's timeout
                    raise self._starved(None) from exc
                future.release()
                yield by_key[future.key], result
        finally:
            watch.stop()
            for future in futures:
                future.cancel()

    def _starved(self, seconds: float | None) -> ClusterError:
        waited = f" for {seconds:g} s" if seconds else ""
        return _error("cluster-no-workers", f"the cluster {self.spec or 'given'} has had no "
                      f"worker{waited} with partitions left to run (they died, or none "
                      "joined); start workers (dask worker ADDRESS --nthreads 1) and run again")

    def close(self) -> None:
        """Close the client (and a cluster of its own). Quietly: after the scheduler went away
        the client's reconnection attempt, cancelled here, logged a traceback on stderr ahead
        of aturan's own one line (`cluster-lost`)."""
        quiet = [logging.getLogger(name) for name in _DASK_LOGGERS]
        levels = [logger.level for logger in quiet]
        for logger in quiet:
            logger.setLevel(logging.CRITICAL + 1)
        try:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            for logger, level in zip(quiet, levels):
                logger.setLevel(level)


class _Starvation(threading.Thread):
    """Asks the scheduler for its workers every second while a run waits; once it has had none
    for `seconds`, notes it and cancels the run's futures (the caller, waiting on them, wakes
    up and raises `cluster-no-workers`)."""

    def __init__(self, client: Any, futures: list[Any], seconds: float):
        super().__init__(name="aturan-cluster-workers", daemon=True)
        self.client, self.futures, self.seconds = client, futures, seconds
        self.starved = False
        self._done = threading.Event()

    def run(self) -> None:
        since: float | None = None
        while not self._done.wait(min(1.0, self.seconds / 4)):
            try:
                workers = len(self.client.nthreads())
            except Exception:  # the scheduler is gone: the futures say so themselves
                return
            if workers:
                since = None
                continue
            since = time.monotonic() if since is None else since
            if time.monotonic() - since >= self.seconds:
                self.starved = True
                try:
                    self.client.cancel(self.futures, reason="no workers")
                except Exception:
                    pass
                return

    def stop(self) -> None:
        self._done.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(5)


_DASK_LOGGERS = ("distributed", "distributed.client", "distributed.utils", "distributed.core",
                 "distributed.comm", "distributed.batched")


def _where(part: Partition) -> str:
    if part.kind == "lines":
        return f"{part.index} ({part.path} bytes {part.start:,}-{part.stop:,})"
    return f"{part.index} ({part.path})"


def local_cluster(workers: int) -> Any:
    """A `LocalCluster` of `workers` single-threaded processes, no dashboard. The scheduler
    still serves HTTP (health, metrics): on a free loopback port, not 8787, which another
    cluster on the machine may hold (Dask would warn and move)."""
    return _dask().LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})


def connect(spec: str) -> DaskExecutor:
    """A `DaskExecutor` for `spec` (`check_spec`). Raises `ClusterError` with one line when
    Dask is not installed or the scheduler cannot be reached within Dask's connect timeout
    (`distributed.comm.timeouts.connect`; set `DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s`
    to change it)."""
    check_spec(spec)
    distributed = _dask()
    local = _LOCAL.match(spec)
    if local:
        try:
            cluster = local_cluster(int(local.group(1)))
        except Exception as exc:  # no processes, ports or memory left here
            raise _error("cluster-start-failed", f"cannot start {spec}: {_one_line(exc)}"
                         ) from exc
        return DaskExecutor(distributed.Client(cluster), cluster, spec)
    try:
        client = distributed.Client(spec)
    except Exception as exc:  # OSError, TimeoutError; ValueError/TypeError (tls:// unset up)
        raise _error("cluster-unreachable", f"cannot reach the Dask scheduler at {spec}: "
                     f"{_one_line(exc)}") from exc
    return DaskExecutor(client, None, spec)
