"""`aturan lint`: the check registry (`registry`), the checks (`checks`), region text (`regions`)
and the run over a collection (`run`)."""

from .regions import region_lines
from .registry import CHECKS, Finding, Target
from .run import lint_collection

__all__ = ["CHECKS", "Finding", "Target", "lint_collection", "region_lines"]
