"""The durable_rules adapter: the only module that imports the engine.

durable_rules keeps process-global C state and is not thread-safe (concurrent calls crashed the
process with a segmentation fault), so every call goes through one process-wide lock. aturan talks
to the C module directly rather than through `durable.lang`/`Host`: the Host starts a background
dispatch thread that would touch the engine outside the lock, and aturan needs no Python actions,
only the names of the rules that fired.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import durable_rules_engine as _engine

from ..errors import Diagnostic, EngineError
from .compiler import FACT_MARKER
from .engine_network import violations

_LOCK = threading.Lock()
_SESSIONS = itertools.count(1)
_REGISTRATIONS = itertools.count(1)
_NOT_HANDLED = 1  # no rule matched the fact
_OBSERVED = 2  # the same fact was asserted twice in a session
_PRIME = "aturan:prime"  # see EngineRuleset._prime
_PRIME_RULE = {"all": [{"m": {_PRIME: 1}}]}
# Fires for every aturan fact, so no session ends without an action: together with _prime this
# keeps every state node's action context initialised whichever slot the engine hands out.
_SEEN = "aturan:seen"
_SEEN_RULE = {"all": [{"m": {FACT_MARKER: 1}}]}


def full_definition(definition: dict[str, Any]) -> dict[str, Any]:
    """What `create_ruleset` is given: aturan's two sentinel rules plus the compiled rules (the
    sentinels first, so the rule a limit check names past 4,096 is the author's)."""
    return {_PRIME: _PRIME_RULE, _SEEN: _SEEN_RULE, **definition}


class EngineRuleset:
    """One compiled ruleset registered in the engine; `fire` asserts one fact in a fresh session
    and returns the names of all rules that fired, then deletes the session's state."""

    def __init__(self, name: str, definition: dict[str, Any]):
        # the engine is process-global: a reload of unchanged text must not reuse a live name
        self.name = f"{name}/{next(_REGISTRATIONS)}"
        self._handle = None
        full = full_definition(definition)
        # Past some limits the engine loops for ever holding the GIL (nothing in the process
        # runs again) or crashes: never hand it a network it cannot build. `aturan.load` has
        # already refused such a ruleset with located errors; this is the last line.
        refused = violations(full)
        if refused:
            raise EngineError([Diagnostic(v.code, f"{name} ({', '.join(v.rules[:3]) or 'all'}"
                                          f"): {v.message}", hint=v.hint) for v in refused])
        payload = json.dumps(full, ensure_ascii=False, sort_keys=True)
        try:
            with _LOCK:
                self._handle = _engine.create_ruleset(self.name, payload)
                self._prime()
        except Exception as exc:  # the engine raises bare exceptions
            # error 107: a node's list of `absent` tests and any-of links is full (more than
            # 127), e.g. many rules sharing one `in` value or one negated fact; long `in` lists
            # alone never cause it (each value is its own test)
            hint = ("many rules share one test inside any-of groups, `in` lists or negated "
                    "comparisons; lead them with a condition that splits them into groups"
                    if "107" in str(exc) else "")
            raise EngineError(Diagnostic("engine-compile", f"engine refused {name}: {exc}",
                                         hint=hint)) from exc

    def _prime(self) -> None:
        """Run one session through a rule that fires, before any real evaluation.

        durable_rules 2.0.28 never initialises a new state node's action context
        (`createStateNode` in state.c leaves `context.messages`/`context.stateFact` as malloc
        left them) and `delete_state` frees those pointers. A session whose fact fired a rule
        has them set (and reset to NULL on delete); a session whose fact matched nothing still
        holds the garbage, so deleting it crashed the process (segfault or "free(): invalid
        pointer"), depending on the heap. Each evaluation deletes its session before the next
        starts (under the lock), so the engine reuses one state slot; priming that slot once
        through this sentinel rule (no aturan fact carries `aturan:prime`) leaves it clean."""
        code, state = _engine.assert_fact(self._handle, json.dumps({_PRIME: 1, "sid": _PRIME}))
        if code != _NOT_HANDLED:
            message = _engine.start_action_for_state(self._handle, state)
            while message:
                message = _engine.complete_and_start_action(self._handle, state)
        _engine.delete_state(self._handle, _PRIME)

    def fire(self, fact: dict[str, Any]) -> list[str]:
        fired: list[str] = []
        with _LOCK:
            if self._handle is None:
                raise EngineError(Diagnostic("engine-closed", f"{self.name} was closed; decide "
                                             "with the Policies that replaced it"))
            sid = str(next(_SESSIONS))
            payload = json.dumps({**fact, "sid": sid}, ensure_ascii=False)
            try:
                code, state = _engine.assert_fact(self._handle, payload)
                if code == _OBSERVED:
                    raise EngineError(Diagnostic("engine-observed",
                                                 f"session {sid} saw the same fact twice"))
                if code != _NOT_HANDLED:
                    started = _engine.start_action_for_state(self._handle, state)
                    message = started[1] if started else None
                    while message:
                        fired.extend(json.loads(message))
                        message = _engine.complete_and_start_action(self._handle, state)
            except EngineError:
                raise
            except Exception as exc:
                raise EngineError(Diagnostic("engine-failure",
                                             f"engine failed on {self.name}: {exc}")) from exc
            finally:
                _engine.delete_state(self._handle, sid)
        # a rule whose condition holds an `any` is expanded by the engine into one branch per
        # alternative, and several branches may fire for one fact: report each rule once
        return [name for name in dict.fromkeys(fired) if name != _SEEN]

    def close(self) -> None:
        """Remove the ruleset from the engine (after a reload, once no request uses it)."""
        with _LOCK:
            if self._handle is not None:
                _engine.delete_ruleset(self._handle)
                self._handle = None
