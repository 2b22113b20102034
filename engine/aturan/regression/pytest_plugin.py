"""pytest plugin (entry point `pytest11: aturan`): `pytest rulesets/` collects each case file
under a `cases/` folder as a module and each case as a test item named by the case, so a policy
repository runs its regression cases with plain pytest. A failure shows the same diff and
explanation as `aturan test`.

Only YAML files inside a `cases/` folder are collected, so the plugin stays out of the way of
ordinary test suites; aturan itself is imported only once such a file is found.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..runtime.evaluate import Policies
    from .cases import Case, CaseResult

_POLICIES = pytest.StashKey[dict]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # a path test first: other suites never import aturan (and its engine) through the plugin
    if file_path.suffix not in (".yaml", ".yml") or "cases" not in file_path.parent.parts:
        return None
    from .cases import is_case_file

    if is_case_file(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFailed(Exception):
    """A case's decision differs from what it expects; carries the result to describe."""

    def __init__(self, result: CaseResult):
        super().__init__(result.case.name)
        self.result = result


def _policies(config: pytest.Config, root: Path) -> Policies:
    """One `Policies` per rulesets folder per session: loading compiles into the engine."""
    from ..runtime.evaluate import load

    cache = config.stash.setdefault(_POLICIES, {})
    key = str(root.resolve())
    if key not in cache:
        cache[key] = load(root)
    return cache[key]


class CaseFile(pytest.File):
    """A case file; a broken file or ruleset is a collection error naming file:line:col."""

    def collect(self) -> Iterator[pytest.Item]:
        from ..errors import RulesetError, display_path
        from .cases import load_cases, rulesets_root

        # pytest hands over absolute paths; files are named relative to where pytest runs,
        # as `aturan test` names them, so `file:line:col` and explanations read alike
        root = Path(display_path(rulesets_root(self.path), relative=True))
        try:
            policies = _policies(self.config, root)
            cases = load_cases(self.path, display_path(self.path, relative=True))
        except RulesetError as exc:
            raise self.CollectError("\n".join(str(d) for d in exc.diagnostics)) from None
        for case in cases:
            yield CaseItem.from_parent(self, name=case.name, case=case, policies=policies)


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, policies: Policies, **kwargs: Any):
        super().__init__(**kwargs)
        self.case = case
        self.policies = policies

    def runtest(self) -> None:
        from .cases import run_case

        result = run_case(self.policies, self.case)
        if not result.passed:
            raise CaseFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, CaseFailed):
            from .cases import describe_failure

            return "\n".join(describe_failure(excinfo.value.result))
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.location.line - 1, f"case: {self.case.name}"
