"""Decision ids: UUIDv7 (RFC 9562), time-ordered, unique across threads and processes.

The first 48 bits are the Unix time in milliseconds, so ids sort by when the decisions were
made; the 12 bits after the version are a counter within one millisecond (RFC 9562 method 3),
started at a random value below 2048, so ids from one process also sort within a
millisecond; the last 62 bits are random (a generator seeded from `os.urandom`, seeded again
in a forked child), so two processes never collide in practice. Ids name records; they are
not secrets, so a fast generator is enough. `made_at` is that same millisecond as text: one
clock reading per record."""

from __future__ import annotations

import os
import random
import threading
import time

_RANDOM = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):  # a forked child must not repeat its parent's ids
    os.register_at_fork(after_in_child=lambda: _RANDOM.seed(os.urandom(32)))


class DecisionIds:
    """A generator of (decision id, made-at text); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._counter = 0
        self._second = -1
        self._prefix = ""

    def next(self) -> tuple[str, str]:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._ms:
                self._ms = ms
                self._counter = _RANDOM.getrandbits(11)
            else:  # the same millisecond (or the clock stepped back): count on from the last
                self._counter += 1
                if self._counter > 0xFFF:  # 4,096 ids in one millisecond: borrow the next
                    self._ms += 1
                    self._counter = 0
                ms = self._ms
            counter = self._counter
            second = ms // 1000
            if second != self._second:
                self._second = second
                self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            prefix = self._prefix
        h = "%032x" % ((ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62)
                       | _RANDOM.getrandbits(62))
        return (h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
                "%s.%03dZ" % (prefix, ms % 1000))


def id_time_ms(decision_id: str) -> int:
    """The Unix time in milliseconds a UUIDv7 carries."""
    return int(decision_id[:8] + decision_id[9:13], 16)
