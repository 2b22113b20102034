"""`aturan lint`: the check registry (`registry`), the checks (`checks`), region text (`regions`)
and the run over a collection (`run`)."""

from .regions import condition_lines, region_lines
from .registry import CHECKS, Finding, Target
from .run import lint_collection

__all__ = ["CHECKS", "Finding", "Target", "condition_lines", "lint_collection", "region_lines"]
