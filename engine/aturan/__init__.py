"""aturan: marketplace order policies as versioned YAML rulesets, decided by durable_rules.

    policies = aturan.load("rulesets")
    decision = policies.decide(facts)          # -> aturan.Decision
    decision.to_dict()                         # matches schemas/decision.schema.json
"""

from .errors import (
                     AturanError,
                     Diagnostic,
                     EngineError,
                     FactsError,
                     Location,
                     RulesetError,
                     SelectionError,
)
from .runtime.decision import Decision
from .runtime.evaluate import Policies, load

__all__ = ["load", "Policies", "Decision", "AturanError", "RulesetError", "FactsError",
           "SelectionError", "EngineError", "Diagnostic", "Location"]
__version__ = "0.1.0"
