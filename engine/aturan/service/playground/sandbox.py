"""Every playground job runs in a child process of its own, with a time limit and a memory limit,
and the server process never parses an edited ruleset at all.

Why a process: durable_rules keeps compiled rulesets in process-global C state and has crashed
the process on engine quirks before (see runtime/_engine.py); a pasted ruleset that found a new
one must not take the decision service down with it, and a job that runs too long (a lint of a
huge ruleset) must be stoppable, which a thread is not. The children are forked from a
`forkserver` that has imported the jobs once, so a job starts in milliseconds; each child is
killed at its deadline, and the server only ever reads back JSON bytes (never a pickle) from it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from ...language.repository import RulesetCollection
from ..logs import event
from .requests import INTERNAL, Limits, PlaygroundRequest, refuse

MIB = 1024 * 1024
RESULT_BYTES = 64 * MIB  # the most a child may send back
# imported once by the fork server, so a child starts with them loaded and their caches filled
# (`warmup`); `__main__` too, so a child does not import the main script again (it must guard
# its own start, as with any multiprocessing program: `if __name__ == "__main__":`)
PRELOAD = ["__main__", "aturan.service.playground.jobs", "aturan.service.playground.warmup"]


def _default_seconds() -> dict[str, float]:
    return {"validate": 10.0, "decide": 10.0, "why-not": 10.0, "sample": 10.0, "test": 20.0,
            "lint": 20.0, "diff": 30.0}


@dataclass(frozen=True)
class TimeLimits:
    """Seconds each job may take (generous: the machine may be busy), the memory a child may
    map, and how many jobs may run (`workers`) or wait (`queue`) at once."""

    seconds: dict[str, float] = field(default_factory=_default_seconds)
    memory_bytes: int = 2048 * MIB
    workers: int = 2
    queue: int = 8


def _context() -> Any:
    """forkserver where the platform has it (Linux, macOS), else spawn (slower to start)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _limit_memory(memory_bytes: int) -> None:
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):  # no such limit here: the time limit still holds
        pass


def _child(writer: Connection, request: PlaygroundRequest, served: RulesetCollection,
           limits: Limits, memory_bytes: int) -> None:
    """The child's whole life: limit memory, run the job, send back JSON, exit."""
    _limit_memory(memory_bytes)
    try:
        from .jobs import run_job
        status, body = run_job(request, served, limits)
        payload: list[Any] = [status, body]
    except MemoryError:
        payload = [413, refuse(413, "memory-limit", "the job needed more memory than the "
                               "playground allows", kind="too_large").body()]
    except Exception as exc:  # a bug of ours: the server logs it, the caller gets a 500
        payload = [500, {"internal": repr(exc), "traceback": traceback.format_exc()}]
    try:
        writer.send_bytes(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    finally:
        writer.close()


class Sandbox:
    """Runs one job per child process; `run` blocks its thread until the answer or the
    deadline. At most `workers` children at once; beyond `queue` waiting jobs, 429."""

    def __init__(self, limits: Limits, times: TimeLimits):
        self.limits = limits
        self.times = times
        self._slots = threading.BoundedSemaphore(times.workers)
        self._lock = threading.Lock()
        self._waiting = 0
        self._running: set[Any] = set()  # child processes, for `close`
        self._closed = False
        self._context = _context()

    def warm(self) -> None:
        """Start the fork server now (it imports aturan: about a second), not at the first job."""
        if self._context.get_start_method() == "forkserver":
            from multiprocessing import forkserver
            forkserver.ensure_running()

    def close(self) -> None:
        """At shutdown: refuse new jobs and kill the running ones (their callers get 422)."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for process in running:
            if process.is_alive():
                process.kill()

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """A place among the jobs that run or wait, held for the block; beyond `workers` +
        `queue` of them, 429 at once (503 once closed). The server takes it before it hands
        a request to a waiting thread, so a flood of requests is refused instead of queueing
        without bound, each holding its connection and body."""
        with self._lock:
            if self._closed:
                raise refuse(503, "playground-unavailable", "the server is shutting down",
                             kind="busy")
            if self._waiting >= self.times.queue + self.times.workers:
                raise refuse(429, "playground-busy", "the playground is busy with other "
                             "requests; try again in a moment", kind="busy")
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1

    def run(self, request: PlaygroundRequest, served: RulesetCollection
            ) -> tuple[int, dict[str, Any]]:
        """`run_admitted` within a place of its own (`admitted`)."""
        with self.admitted():
            return self.run_admitted(request, served)

    def run_admitted(self, request: PlaygroundRequest, served: RulesetCollection
                     ) -> tuple[int, dict[str, Any]]:
        """Run the job once one of the `workers` slots is free; the caller holds a place."""
        with self._lock:
            if self._closed:
                raise refuse(503, "playground-unavailable", "the server is shutting down",
                             kind="busy")
        with self._slots:
            return self._run(request, served)

    def _run(self, request: PlaygroundRequest, served: RulesetCollection
             ) -> tuple[int, dict[str, Any]]:
        seconds = self.times.seconds.get(request.job, 10.0)
        reader, writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_child, args=(writer, request, served, self.limits,
                                 self.times.memory_bytes), daemon=True,
            name=f"aturan-playground-{request.job}")
        began = time.monotonic()
        try:
            try:
                process.start()
                with self._lock:
                    self._running.add(process)
            except OSError as exc:  # no processes or memory left on the machine
                event("playground-start-failed", logging.ERROR, error=repr(exc))
                raise refuse(503, "playground-unavailable", "the playground cannot start a "
                             "worker process right now; try again later", kind="busy") from exc
            finally:
                writer.close()  # the child holds the only writing end: EOF when it dies
            try:
                ready = reader.poll(seconds)
                data = reader.recv_bytes(RESULT_BYTES) if ready else None
            except (EOFError, OSError):
                data = b""
        finally:
            if process.pid is not None:
                if process.is_alive():
                    process.kill()
                process.join(5)
            with self._lock:
                self._running.discard(process)
            reader.close()
        if data is None:
            raise refuse(422, "time-limit", f"{request.job} took longer than {seconds:g} s, the "
                         "playground's limit; run it with the aturan command line instead",
                         kind="time_limit")
        if not data:
            event("playground-worker-died", logging.ERROR, job=request.job,
                  exitcode=process.exitcode, seconds=round(time.monotonic() - began, 3))
            raise refuse(422, "worker-crashed", f"evaluating this {request.job} request ended "
                         f"the playground's worker process (exit code {process.exitcode}); the "
                         "served rulesets are not affected", kind="engine")
        status, body = json.loads(data)
        if status == 500:
            event("internal-error", logging.ERROR, error=body.get("internal"),
                  traceback=body.get("traceback"), job=request.job)
            body = INTERNAL
        return status, body
