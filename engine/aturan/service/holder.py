"""The rulesets a service decides with, and how a new set replaces them.

A reload loads, validates and compiles the whole new set (`aturan.load`) before anything changes;
only then does one reference assignment make it current, so a request sees either the old set or
the new one, never a mix. A broken file leaves the old set serving and is kept as the last reload
result for `/healthz` and the log.

Every request holds a lease on the generation it started with. The durable_rules engine keeps
compiled rulesets as process-global C state, so a replaced generation's engine rulesets are
closed as soon as its last lease ends (at once when it had none): keeping them would grow memory
with every edit under `--watch`, and closing them earlier would pull them from under a request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter

from ..errors import AturanError
from ..language.project import PROJECT_FILE, project_root
from ..language.repository import discover
from ..runtime.evaluate import Policies, load

Snapshot = tuple[tuple[str, int, int, int, int], ...] | None
LOAD_ATTEMPTS = 3  # loads retried while the files keep changing under the loader


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ReloadResult:
    """One attempt to (re)load the rulesets: what triggered it and what came of it."""

    ok: bool
    trigger: str  # start | watch | sighup | manual
    at: str
    generation: int  # the generation serving after the attempt
    duration_ms: float
    errors: tuple[str, ...] = ()  # `file:line:col: code: message` for each problem

    def to_dict(self) -> dict:
        return {"ok": self.ok, "trigger": self.trigger, "at": self.at,
                "generation": self.generation, "duration_ms": round(self.duration_ms, 1),
                "errors": list(self.errors)}


@dataclass(eq=False)
class _Generation:
    policies: Policies
    number: int
    loaded_at: str
    users: int = 0
    retired: bool = False


def snapshot(root: Path) -> Snapshot:
    """(file, device, inode, mtime in ns, size) of every ruleset file and of the policy
    folder's project file (`aturan.yaml`): what `--watch` compares between polls. The inode
    tells a file renamed into place (an atomic deploy) from the one it replaced even when both
    have the same size and time."""
    try:
        files = [p for p, _ in discover([root])]
        project = project_root(root)
        if project is not None:
            files.append(project / PROJECT_FILE)
        return tuple(sorted((str(path), stat.st_dev, stat.st_ino, stat.st_mtime_ns,
                             stat.st_size)
                            for path, stat in ((p, p.stat()) for p in files)))
    except (OSError, ValueError):  # folder gone, or a file removed between listing and stat
        return None


@dataclass
class PolicyHolder:
    """Owns the current `Policies` generation; `lease()` for requests, `reload()` to replace it."""

    root: Path
    loader: Callable[[Path], Policies] = load
    on_reload: Callable[[ReloadResult], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._snapshot = snapshot(self.root)
        self._polled = self._snapshot  # what the previous `poll` saw
        self._current: _Generation | None = None
        self.last_reload: ReloadResult | None = None

    def start(self, initial: Policies | None = None) -> ReloadResult:
        """Serve `initial` (already loaded by the caller), else load now; raises RulesetError."""
        began = perf_counter()
        policies = initial if initial is not None else self.loader(self.root)
        self._current = _Generation(policies, 1, utc_now())
        self.last_reload = ReloadResult(True, "start", self._current.loaded_at, 1,
                                        (perf_counter() - began) * 1000)
        return self.last_reload

    @property
    def generation(self) -> int:
        return self._generation().number

    @property
    def loaded_at(self) -> str:
        return self._generation().loaded_at

    @property
    def policies(self) -> Policies:
        """The current set, for reading its description; decisions go through `lease()`."""
        return self._generation().policies

    def _generation(self) -> _Generation:
        if self._current is None:
            raise RuntimeError("PolicyHolder.start() was not called")
        return self._current

    @contextmanager
    def lease(self) -> Iterator[Policies]:
        """The current set, kept open until the block ends even if a reload replaces it."""
        with self._lock:
            generation = self._generation()
            generation.users += 1
        try:
            yield generation.policies
        finally:
            with self._lock:
                generation.users -= 1
                finished = generation.retired and generation.users == 0
            if finished:
                generation.policies.close()

    def changed(self) -> bool:
        """Whether any ruleset file appeared, vanished or changed since the last (re)load."""
        return snapshot(self.root) != self._snapshot

    def poll(self) -> bool:
        """Whether a change is ready to load: the files differ from the loaded set and are
        exactly as the previous poll saw them. A file still being written (its size or time
        moving) waits for the next poll, so a half-written file is not loaded as long as its
        writer keeps writing; deploys should still rename files into place (docs/http.md)."""
        now = snapshot(self.root)
        ready = now != self._snapshot and now == self._polled
        self._polled = now
        return ready

    def reload(self, trigger: str = "manual") -> ReloadResult:
        """Load the whole set anew; swap it in only if it loaded, validated and compiled.

        `on_reload` (the log event, the metrics) runs before the result is published: whoever
        sees the new generation in `/healthz` can already read the event that announced it."""
        with self._reload_lock:
            began = perf_counter()
            for _ in range(LOAD_ATTEMPTS):
                seen = snapshot(self.root)
                fresh, result = self._load(trigger, began)
                if snapshot(self.root) == seen:
                    break  # the files did not change while they were read: one consistent set
                if fresh is not None:
                    fresh.close()
                fresh, result = None, self._failed(trigger, began, (
                    f"{self.root}: ruleset files kept changing while they were loaded; the old "
                    "set keeps serving (deploy by renaming files into place)",))
            if self.on_reload is not None:
                self.on_reload(result)
            if fresh is not None:
                self._publish(fresh, result)
            self._snapshot = seen
            self.last_reload = result
        return result

    def _load(self, trigger: str, began: float) -> tuple[Policies | None, ReloadResult]:
        try:
            fresh = self.loader(self.root)
        except AturanError as exc:
            return None, self._failed(trigger, began, tuple(str(d) for d in exc.diagnostics))
        except Exception as exc:  # unreadable folder, engine refusal: keep the old set
            return None, self._failed(trigger, began, (f"{self.root}: {type(exc).__name__}: "
                                                       f"{exc}",))
        return fresh, ReloadResult(True, trigger, utc_now(), self.generation + 1,
                                   (perf_counter() - began) * 1000)

    def _publish(self, fresh: Policies, result: ReloadResult) -> None:
        """Make `fresh` the current generation; close the old one once no request holds it."""
        with self._lock:
            old = self._generation()
            self._current = _Generation(fresh, result.generation, result.at)
            old.retired = True
            idle = old.users == 0
        if idle:
            old.policies.close()

    def _failed(self, trigger: str, began: float, errors: tuple[str, ...]) -> ReloadResult:
        return ReloadResult(False, trigger, utc_now(), self.generation,
                            (perf_counter() - began) * 1000, errors)

    def close(self) -> None:
        """At shutdown: close the current set once no request holds it."""
        with self._lock:
            generation = self._generation()
            generation.retired = True
            idle = generation.users == 0
        if idle:
            generation.policies.close()


class Reloader:
    """A background thread that reloads on request (SIGHUP) and, with `watch`, whenever a poll of
    the ruleset files' mtimes and sizes sees a change. Reloads run here, never on the event loop:
    compiling a set takes CPU time that requests should not wait behind."""

    def __init__(self, holder: PolicyHolder, watch: bool, interval: float):
        self.holder = holder
        self.watch = watch
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._requested = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aturan-reloader", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Ask for a reload (from the event loop's SIGHUP callback, or anywhere)."""
        self._requested = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval if self.watch else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._requested:
                self._requested = False
                self.holder.reload("sighup")
            elif self.watch and self.holder.poll():
                self.holder.reload("watch")
