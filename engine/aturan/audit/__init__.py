"""The decision log: every decision auditable, re-derivable and testable against a new version.

A `DecisionLog` attached to a `Policies` (`log.attach(policies, roots)`, or `aturan decide` /
`aturan serve --decision-log PATH`) writes one JSON Lines record per decision: its id, input
(masked), `now`, why its ruleset version was chosen, the ruleset digest, the software versions
and the result, hash-chained, with a content-addressed archive of every ruleset text beside the
log. `aturan replay` re-derives logged decisions (`--verify`) or compares them with another
version (`--against`). See docs/decision-log.md.

Layering: above `runtime` (it observes `Policies` through `runtime.observe`) and `regression`
(replay's report is `aturan diff`'s), below `service` and `cli`."""

from .masking import Masker, MaskRule
from .settings import LogSettings, LogSettingsError
from .writer import DecisionLog, LogOptions

__all__ = ["DecisionLog", "LogOptions", "LogSettings", "LogSettingsError", "Masker", "MaskRule"]
