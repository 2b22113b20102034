"""The service's settings as one typed value that travels through environment variables, so a
uvicorn worker process (started from an import string, not a Python object) sees exactly what
`aturan serve` was given."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024

ENV_RULESETS = "ATURAN_RULESETS"
ENV_MAX_BODY = "ATURAN_MAX_BODY_BYTES"
ENV_BATCH_LIMIT = "ATURAN_BATCH_LIMIT"
ENV_WATCH = "ATURAN_WATCH"
ENV_WATCH_INTERVAL = "ATURAN_WATCH_INTERVAL"
ENV_SIGHUP = "ATURAN_SIGHUP"
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
    playground: bool = False  # serve /playground and /v1/playground/* (docs/playground.md)

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError(f"max body size must be at least 1 byte, not {self.max_body_bytes}")
        if self.batch_limit < 1:
            raise ConfigError(f"batch limit must be at least 1 item, not {self.batch_limit}")
        if not self.watch_interval > 0:
            raise ConfigError(f"watch interval must be positive, not {self.watch_interval}")

    def to_env(self) -> dict[str, str]:
        return {ENV_RULESETS: str(self.rulesets), ENV_MAX_BODY: str(self.max_body_bytes),
                ENV_BATCH_LIMIT: str(self.batch_limit), ENV_WATCH: "1" if self.watch else "0",
                ENV_WATCH_INTERVAL: repr(self.watch_interval),
                ENV_SIGHUP: "1" if self.handle_sighup else "0",
                ENV_PLAYGROUND: "1" if self.playground else "0"}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        rulesets = env.get(ENV_RULESETS)
        if not rulesets:
            from ..resources import bundled_dir
            local = Path("rulesets")
            rulesets = str(local if local.is_dir() else bundled_dir("rulesets"))
        return cls(rulesets=Path(rulesets),
                   max_body_bytes=_number(env, ENV_MAX_BODY, MIB, int),
                   batch_limit=_number(env, ENV_BATCH_LIMIT, 1000, int),
                   watch=_flag(env, ENV_WATCH),
                   watch_interval=_number(env, ENV_WATCH_INTERVAL, 1.0, float),
                   handle_sighup=_flag(env, ENV_SIGHUP),
                   playground=_flag(env, ENV_PLAYGROUND))


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
