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

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from ..errors import Diagnostic, EngineError, Location
from .inputs import Partition

J = TypeVar("J")
R = TypeVar("R")

_LOCAL = re.compile(r"^local:(\d+)$")
_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")


class ClusterError(EngineError):
    """The cluster cannot be used: Dask is missing, the scheduler cannot be reached, or a
    partition kept killing its workers. Its message is one line."""


def check_spec(spec: str) -> str:
    """`spec` if it is `local:N` (N >= 1) or a scheduler address, else a `ValueError` saying
    what is accepted (a usage error)."""
    local = _LOCAL.match(spec)
    if (local and int(local.group(1)) >= 1) or (not local and _ADDRESS.match(spec)):
        return spec
    raise ValueError(f"{spec!r} is neither local:N (N worker processes here) nor a scheduler "
                     "address such as tcp://HOST:8786")


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
        self._run = uuid.uuid4().hex[:12]

    def threads(self) -> dict[str, int]:
        """Threads per worker address, as the scheduler knows them now."""
        return dict(self.client.nthreads())

    def map(self, task: Callable[[J, Partition], R], job: J, parts: Sequence[Partition]
            ) -> Iterator[tuple[Partition, R]]:
        if not parts:
            return
        distributed = _dask()
        name = getattr(task, "__name__", "task").replace("_", "-")
        keys = [f"aturan-{name}-{self._run}-{p.index}" for p in parts]
        futures = self.client.map(task, [job] * len(parts), list(parts), key=keys, pure=False)
        by_key = {future.key: part for future, part in zip(futures, parts)}
        try:
            for future in distributed.as_completed(futures):
                try:
                    result = future.result()
                except distributed.client.FutureCancelledError as exc:
                    raise _error("cluster-lost", f"the cluster cancelled partition "
                                 f"{_where(by_key[future.key])}: {exc}") from exc
                except distributed.KilledWorker as exc:
                    raise _error("cluster-worker-died", "workers died running partition "
                                 f"{_where(by_key[future.key])} each time Dask retried it; "
                                 "see the workers' logs (memory limit?)") from exc
                future.release()
                yield by_key[future.key], result
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


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
        cluster = local_cluster(int(local.group(1)))
        return DaskExecutor(distributed.Client(cluster), cluster, spec)
    try:
        client = distributed.Client(spec)
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _error("cluster-unreachable", f"cannot reach the Dask scheduler at {spec}: "
                     f"{reason}") from exc
    return DaskExecutor(client, None, spec)
