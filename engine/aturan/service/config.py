"""The service's settings as one typed value that travels through environment variables, so a
uvicorn worker process (started from an import string, not a Python object) sees exactly what
`aturan serve` was given."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..audit.settings import LogSettings

MIB = 1024 * 1024

ENV_RULESETS = "ATURAN_RULESETS"
ENV_MAX_BODY = "ATURAN_MAX_BODY_BYTES"
ENV_BATCH_LIMIT = "ATURAN_BATCH_LIMIT"
ENV_WATCH = "ATURAN_WATCH"
ENV_WATCH_INTERVAL = "ATURAN_WATCH_INTERVAL"
ENV_SIGHUP = "ATURAN_SIGHUP"
ENV_MEMO_CAPACITY = "ATURAN_MEMO_CAPACITY"
ENV_PROBE_TIMEOUT = "ATURAN_PROBE_TIMEOUT"
ENV_BODY_TIMEOUT = "ATURAN_BODY_TIMEOUT"
ENV_PLAYGROUND = "ATURAN_PLAYGROUND"


class ConfigError(ValueError):
    """A setting from the command line or the environment has an unusable value."""


@dataclass(frozen=True)
class ServiceConfig:
    """What one service process needs: where the rulesets are and the request limits.

    `handle_sighup` is on only where the process owns its main thread's signals (`aturan serve`
    and its workers), never in tests that run the app inside another program."""

    rulesets: Path
    max_body_bytes: int = MIB
    batch_limit: int = 1000
    watch: bool = False
    watch_interval: float = 1.0
    handle_sighup: bool = False
    memo_capacity: int | None = None  # keys per compiled ruleset's memo; None: the default
    # seconds a probe process may take to build a new rule set (start, reload); 0: no probe
    probe_timeout: float = 60.0
    body_timeout: float = 30.0  # seconds to receive a whole request body, then 408
    decision_log: LogSettings | None = None  # --decision-log*: one record per decision
    playground: bool = False  # serve /playground and /v1/playground/* (docs/playground.md)

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError(f"max body size must be at least 1 byte, not {self.max_body_bytes}")
        if self.batch_limit < 1:
            raise ConfigError(f"batch limit must be at least 1 item, not {self.batch_limit}")
        if not self.watch_interval > 0:
            raise ConfigError(f"watch interval must be positive, not {self.watch_interval}")
        if self.memo_capacity is not None and self.memo_capacity < 1:
            raise ConfigError(f"memo capacity must be at least 1 key, not {self.memo_capacity}")
        if not self.probe_timeout >= 0:
            raise ConfigError(f"probe timeout must be 0 (off) or positive, not "
                              f"{self.probe_timeout}")
        if not self.body_timeout > 0:
            raise ConfigError(f"body timeout must be positive, not {self.body_timeout}")

    def to_env(self) -> dict[str, str]:
        return {ENV_RULESETS: str(self.rulesets), ENV_MAX_BODY: str(self.max_body_bytes),
                ENV_BATCH_LIMIT: str(self.batch_limit), ENV_WATCH: "1" if self.watch else "0",
                ENV_WATCH_INTERVAL: repr(self.watch_interval),
                ENV_SIGHUP: "1" if self.handle_sighup else "0",
                ENV_MEMO_CAPACITY: "" if self.memo_capacity is None else str(self.memo_capacity),
                ENV_PROBE_TIMEOUT: repr(self.probe_timeout),
                ENV_BODY_TIMEOUT: repr(self.body_timeout),
                ENV_PLAYGROUND: "1" if self.playground else "0",
                **(self.decision_log.to_env() if self.decision_log else {})}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        rulesets = env.get(ENV_RULESETS)
        if not rulesets:
            from ..language.project import default_rulesets
            rulesets = str(default_rulesets())
        return cls(rulesets=Path(rulesets),
                   max_body_bytes=_number(env, ENV_MAX_BODY, MIB, int),
                   batch_limit=_number(env, ENV_BATCH_LIMIT, 1000, int),
                   watch=_flag(env, ENV_WATCH),
                   watch_interval=_number(env, ENV_WATCH_INTERVAL, 1.0, float),
                   handle_sighup=_flag(env, ENV_SIGHUP),
                   memo_capacity=_number(env, ENV_MEMO_CAPACITY, None, int),
                   probe_timeout=_number(env, ENV_PROBE_TIMEOUT, 60.0, float),
                   body_timeout=_number(env, ENV_BODY_TIMEOUT, 30.0, float),
                   playground=_flag(env, ENV_PLAYGROUND),
                   decision_log=_decision_log(env))


def _decision_log(env: Mapping[str, str]) -> LogSettings | None:
    from ..audit.settings import LogSettingsError
    try:
        return LogSettings.from_env(env)
    except LogSettingsError as exc:
        raise ConfigError(str(exc)) from None


def _number(env: Mapping[str, str], name: str, default, kind):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a yes/no value (use 1 or 0)")
