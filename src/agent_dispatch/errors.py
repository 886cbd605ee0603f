"""Errors the tool raises on purpose.

    FatalError                 something the user can fix; exit code 1
    ├── PlanError              a plan failed to load or validate; carries every Problem; exit 2
    └── GitError               a git command failed in an expected way

Anything else reaching the top-level handler is a bug (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about an input file, printed as ``path:line:col: field: message``."""

    path: str
    line: int
    col: int
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}:{self.col}: {self.field}: {tag}{self.message}"


class FatalError(RuntimeError):
    """A failure the user can act on; the message says what happened and what to do."""

    exit_code = 1


class GitError(FatalError):
    """A git command failed."""


class PlanError(FatalError):
    """A plan (dispatch.yaml) has problems; all of them are listed, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.col, p.field, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))
