"""How a decision log is configured, as one typed value: from `--decision-log*` options, and
through environment variables into `aturan serve`'s worker processes (which start from an
import string, not a Python object). The HMAC key itself never travels in a setting: it is
read from `ATURAN_DECISION_LOG_KEY` or from the key file when the log opens."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .masking import Masker, MaskRule
from .writer import MIB, WHEN_FULL, DecisionLog, LogOptions, NotADecisionLog, check_log_file

ENV_PATH = "ATURAN_DECISION_LOG"
ENV_MAX_BYTES = "ATURAN_DECISION_LOG_MAX_BYTES"
ENV_WHEN_FULL = "ATURAN_DECISION_LOG_WHEN_FULL"
ENV_QUEUE = "ATURAN_DECISION_LOG_QUEUE"
ENV_MASK = "ATURAN_DECISION_LOG_MASK"  # mask rules separated by spaces
ENV_KEY_FILE = "ATURAN_DECISION_LOG_KEY_FILE"
ENV_PER_PROCESS = "ATURAN_DECISION_LOG_PER_PROCESS"
ENV_KEY = "ATURAN_DECISION_LOG_KEY"  # the HMAC key itself (or use a key file)


class LogSettingsError(ValueError):
    """A decision log setting has an unusable value (the message says which and why)."""


@dataclass(frozen=True)
class LogSettings:
    path: Path
    max_bytes: int = 64 * MIB
    when_full: str = "block"
    queue_size: int = 10_000
    masks: tuple[str, ...] = ()  # extra `MaskRule`s as written: POINTER[=erase|hmac]
    key_file: Path | None = None
    per_process: bool = False  # each worker process writes NAME.<pid>.jsonl (its own chain)
    rules: tuple[MaskRule, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            LogOptions(self.max_bytes, self.when_full, self.queue_size)
            rules = tuple(MaskRule.parse(text) for text in self.masks)
        except ValueError as exc:
            raise LogSettingsError(str(exc)) from None
        object.__setattr__(self, "rules", rules)

    def key(self, environ: Mapping[str, str] | None = None) -> bytes | None:
        """The HMAC key: the key file's contents, else $ATURAN_DECISION_LOG_KEY, else None."""
        env = os.environ if environ is None else environ
        if self.key_file is not None:
            try:
                raw = self.key_file.read_bytes().strip()
            except OSError as exc:
                raise LogSettingsError(f"cannot read the decision log key file "
                                       f"{self.key_file}: {exc.strerror}") from None
            if not raw:
                raise LogSettingsError(f"the decision log key file {self.key_file} is empty")
            return raw
        text = env.get(ENV_KEY, "")
        return text.encode("utf-8") if text else None

    def check(self) -> None:
        """Raise `LogSettingsError` now, not at the first decision, if the log cannot be
        written where asked or the key file cannot be read."""
        self.key()
        path = self.log_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            existed = path.exists()
            with open(path, "ab"):
                pass
            if not existed:  # a probe: leave no empty file behind
                path.unlink()
            check_log_file(path)
        except OSError as exc:
            raise LogSettingsError(f"cannot write the decision log {path}: "
                                   f"{exc.strerror or exc}") from None
        except NotADecisionLog as exc:
            raise LogSettingsError(str(exc)) from None

    def log_path(self) -> Path:
        if not self.per_process:
            return self.path
        name = self.path.name.removesuffix(".jsonl")
        return self.path.with_name(f"{name}.{os.getpid()}.jsonl")

    def open(self, on_drop: Callable[[int], None] | None = None) -> DecisionLog:
        """Start the log (its writer threads); raises `LogSettingsError` or OSError."""
        masker = Masker.default(self.rules, self.key())
        try:
            return DecisionLog(self.log_path(), masker,
                               LogOptions(self.max_bytes, self.when_full, self.queue_size),
                               on_drop=on_drop)
        except NotADecisionLog as exc:
            raise LogSettingsError(str(exc)) from None

    def to_env(self) -> dict[str, str]:
        env = {ENV_PATH: str(self.path), ENV_MAX_BYTES: str(self.max_bytes),
               ENV_WHEN_FULL: self.when_full, ENV_QUEUE: str(self.queue_size),
               ENV_MASK: " ".join(self.masks), ENV_PER_PROCESS: "1" if self.per_process else "0"}
        if self.key_file is not None:
            env[ENV_KEY_FILE] = str(self.key_file)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LogSettings | None:
        env = os.environ if environ is None else environ
        path = env.get(ENV_PATH)
        if not path:
            return None

        def number(name: str, default: int) -> int:
            raw = env.get(name, "")
            try:
                return int(raw) if raw else default
            except ValueError:
                raise LogSettingsError(f"{name}={raw!r} is not a whole number") from None
        when_full = env.get(ENV_WHEN_FULL) or "block"
        if when_full not in WHEN_FULL:
            raise LogSettingsError(f"{ENV_WHEN_FULL}={when_full!r}: use block or drop")
        key_file = env.get(ENV_KEY_FILE)
        return cls(Path(path), number(ENV_MAX_BYTES, 64 * MIB), when_full,
                   number(ENV_QUEUE, 10_000), tuple(env.get(ENV_MASK, "").split()),
                   Path(key_file) if key_file else None,
                   env.get(ENV_PER_PROCESS, "") == "1")
