"""Locations, diagnostics and the one exception family every aturan error belongs to."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def display_path(path: str | os.PathLike[str], relative: bool) -> str:
    """How a file is named in every message (`Location.file`, explanations' source): relative
    to the current directory when the user named it, or a folder above it, relatively; absolute
    when absolutely. So `file:line:col` opens from where the command ran, and `validate`,
    `test`, `lint`, `decide`, the pytest plugin and `aturan.load` all name a file alike.

    Lexical (`abspath`, not `resolve`): a file reached through a symbolic link keeps the name it
    was reached by, as the user typed it."""
    full = os.path.abspath(path)
    if relative:
        try:
            full = os.path.relpath(full)
        except ValueError:  # on another drive (Windows): no relative name exists
            pass
    return Path(full).as_posix()


@dataclass(frozen=True, order=True)
class Location:
    """Where something stands in a source file: 1-based line and column, plus its JSON pointer.
    `file` is made by `display_path`."""

    file: str = ""
    line: int = 0
    col: int = 0
    pointer: str = ""

    def __str__(self) -> str:
        if not self.file:
            return self.pointer or "<input>"
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One finding about an input: a stable code, a human message and where it is."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    severity: str = "error"  # error | warning
    hint: str = ""
    # other JSON pointers the finding involves (a total that does not add up names the amounts
    # it should equal); `location.pointer` is the first of them
    related: tuple[str, ...] = ()

    @property
    def pointers(self) -> tuple[str, ...]:
        """Every JSON pointer involved: the location's first, then `related`."""
        return tuple(dict.fromkeys((self.location.pointer or "/",) + self.related))

    @property
    def full_message(self) -> str:
        """The message and its hint, as every output shows them: `… "x" Did you mean "y"?`."""
        return f"{self.message} {self.hint}" if self.hint else self.message

    def __str__(self) -> str:
        text = f"{self.location}: {self.code}: {self.message}"
        if self.location.pointer and self.location.file:
            text += f" (at {self.location.pointer or '/'})"
        if self.hint:
            text += f" {self.hint}"
        return text

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.full_message,
            "file": self.location.file or None,
            "line": self.location.line or None,
            "col": self.location.col or None,
            "pointer": self.location.pointer,
            **({"pointers": list(self.pointers)} if self.related else {}),
        }


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sort by file, line, column, then code, so output never depends on discovery order."""
    return sorted(diagnostics, key=lambda d: (d.location.file, d.location.line, d.location.col,
                                              d.code, d.message))


class AturanError(Exception):
    """Base of every error aturan raises on purpose; carries its diagnostics and an exit code."""

    exit_code = EXIT_INVALID
    kind = "error"

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = sort_diagnostics(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    def __reduce__(self) -> tuple[type, tuple[list[Diagnostic]]]:
        """Pickled with its diagnostics (not its message), so an error raised in a worker
        process or on a cluster reaches the caller whole."""
        return type(self), (self.diagnostics,)


class RulesetError(AturanError):
    """A ruleset file is not valid: YAML, schema or semantic problem."""

    kind = "invalid_ruleset"


class FactsError(AturanError):
    """Order facts do not satisfy the facts schema; each diagnostic names a JSON pointer."""

    kind = "invalid_facts"


class SelectionError(AturanError):
    """No ruleset (version) applies to the request, or a pin names one that is not loaded."""

    kind = "no_ruleset"


class EngineError(AturanError):
    """The rules engine failed in a way that is not the caller's fault."""

    kind = "engine"


def pointer_join(pointer: str, key: str | int) -> str:
    """Append one reference token to a JSON pointer, escaping as RFC 6901 says."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def error_body(error: AturanError) -> dict:
    """The JSON body for an error, shared by the CLI's JSON output and the HTTP API's 4xx."""
    return {"errors": [{"pointer": d.location.pointer or "/", "code": d.code,
                        "message": d.full_message,
                        **({"pointers": list(d.pointers)} if d.related else {})}
                       for d in error.diagnostics], "kind": error.kind}
