"""Decision ids: UUIDv7 (RFC 9562), time-ordered, unique across threads and processes.

The first 48 bits are the Unix time in milliseconds, so ids sort by when the decisions were
made; the 12 bits after the version are a counter within one millisecond (RFC 9562 method 3),
started at a random value below 2048, so ids from one process also sort within a
millisecond; of the last 64 bits, after the variant (0b10) and two zero bits, 60 are random
(a generator seeded from `os.urandom`, seeded again in a forked child), so two processes
never collide in practice. Ids name records; they are not secrets, so a fast generator is
enough. `made_at` is that same millisecond as text: one
clock reading per record."""

from __future__ import annotations

import os
import random
import threading
import time

_RANDOM = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):  # a forked child must not repeat its parent's ids
    os.register_at_fork(after_in_child=lambda: _RANDOM.seed(os.urandom(32)))

# "%03x" of every 12-bit counter: formatting five fields with `%` was a third of an id's cost
_HEX3 = tuple(f"{n:03x}" for n in range(4096))


class DecisionIds:
    """A generator of (decision id, made-at text); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._counter = 0
        self._second = -1
        self._prefix = ""
        self._head = ""  # the id's first 15 characters, fixed by the millisecond

    def next(self) -> tuple[str, str]:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._ms:
                self._ms = ms
                self._counter = _RANDOM.getrandbits(11)
                self._head = "%08x-%04x-7" % (ms >> 16, ms & 0xFFFF)
            else:  # the same millisecond (or the clock stepped back): count on from the last
                self._counter += 1
                if self._counter > 0xFFF:  # 4,096 ids in one millisecond: borrow the next
                    self._ms += 1
                    self._counter = 0
                    self._head = "%08x-%04x-7" % (self._ms >> 16, self._ms & 0xFFFF)
                ms = self._ms
            counter = self._counter
            head = self._head
            second = ms // 1000
            if second != self._second:
                self._second = second
                self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            prefix = self._prefix
        # variant 0b10 and two zero bits, then 60 random bits (rand_b is the generator's own)
        tail = "%015x" % _RANDOM.getrandbits(60)
        return (head + _HEX3[counter] + "-8" + tail[:3] + "-" + tail[3:],
                "%s.%03dZ" % (prefix, ms % 1000))


def id_time_ms(decision_id: str) -> int:
    """The Unix time in milliseconds a UUIDv7 carries."""
    return int(decision_id[:8] + decision_id[9:13], 16)
