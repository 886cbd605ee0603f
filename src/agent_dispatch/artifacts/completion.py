"""Parse an agent's completion report (markdown) leniently into a typed record.

Absent, empty or specific-free reports count as "not done" (a report that says nothing checkable
is no report). The tool never trusts the report's numbers: gate 3 recomputes them from git and
records the mismatches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_HEADING = re.compile(r"^#{2,3}\s+(.+?)\s*$", re.M)
_STATUS = re.compile(r"^\s*\**Status\**\s*:\s*\**\s*(COMPLETE|PARTIAL|BLOCKED)", re.M | re.I)
_FILE_LINE = re.compile(r"^\s*[-*]?\s*`?(MODIFIED|CREATED|DELETED|ADDED)`?\s+`?([^`\s]+)`?", re.M | re.I)
_RESULT = re.compile(r"\b(PASS|FAIL)(?:ED)?\b", re.I)
_PARKED_SECTION = re.compile(r"^##\s+Parked\b[^\n]*\n(?P<body>.*?)(?=^##\s|\Z)", re.M | re.S | re.I)
_REASON_LIMIT = 300


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    title: str
    priority: str
    status: str


@dataclass(frozen=True)
class CompletionReport:
    """What an agent claims; compare with the tool's own facts before believing any of it."""

    status: str | None
    sections: dict[str, str] = field(default_factory=dict)
    tasks: tuple[TaskRow, ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # (MODIFIED|CREATED|DELETED, path)
    p0: tuple[dict[str, str], ...] = ()
    build: str | None = None  # PASS / FAIL as claimed
    tests: str | None = None
    parked_text: str = ""  # the "## Parked Chains" section, its ### subsections included

    def completed_chains(self, ids: Mapping[str, str]) -> set[str]:
        """Chain ids (keys of ``ids``, chain id → task id) whose row in Tasks Completed says COMPLETE;
        a row names its chain by task id (``A-01``) or chain id."""
        named = {t.task_id.strip("` ").lower(): t.status for t in self.tasks}
        return {chain for chain, task in ids.items()
                if any(named.get(key.lower(), "").strip("*` ").upper().startswith("COMPLETE") for key in (task, chain))}

    def parked_chains(self, ids: Mapping[str, str]) -> dict[str, str]:
        """The agent's reason per chain it parked in its report's Parked Chains section (chain id →
        reason): the line naming the chain (task id or chain id), without the name, or the line after
        it when the name stands alone (a ``### A-01 (chain-1)`` heading)."""
        lines = [ln.strip().lstrip("#-*> ").strip() for ln in self.parked_text.splitlines()]
        lines = [ln for ln in lines if ln]
        found: dict[str, str] = {}
        for chain, task in ids.items():
            name = re.compile(rf"(?<![\w-])({re.escape(task)}|{re.escape(chain)})(?![\w-])", re.I)
            for i, line in enumerate(lines):
                if not name.search(line):
                    continue
                rest = name.sub("", line).strip(" \t:—–-()`*|,.")
                reason = rest if rest else (lines[i + 1] if i + 1 < len(lines) else "")
                found[chain] = (reason or "parked in the completion report")[:_REASON_LIMIT]
                break
        return found

    @property
    def is_substantive(self) -> bool:
        """True when the report states something checkable (status, tasks or files)."""
        return bool(self.status or self.tasks or self.files)

    @property
    def files_claimed(self) -> set[str]:
        return {path for _, path in self.files}


def _sections(text: str) -> dict[str, str]:
    marks = list(_HEADING.finditer(text))
    out: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[mark.group(1).strip().lower()] = text[mark.end():end].strip()
    return out


def _table(body: str) -> list[dict[str, str]]:
    rows = [ln.strip() for ln in body.splitlines() if ln.strip().startswith("|")]
    if len(rows) < 2:
        return []
    header = [c.strip().lower() for c in rows[0].strip("|").split("|")]
    out = []
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        out.append(dict(zip(header, cells)))
    return out


def _find(sections: dict[str, str], *names: str) -> str:
    for title, body in sections.items():
        if any(title.startswith(n) for n in names):
            return body
    return ""


def parse_report(text: str) -> CompletionReport:
    """Parse report ``text``; never raises on odd input."""
    sections = _sections(text)
    status = _STATUS.search(text)
    tasks = tuple(
        TaskRow(r.get("task id", r.get("id", "")), r.get("title", ""), r.get("priority", ""), r.get("status", ""))
        for r in _table(_find(sections, "tasks completed", "tasks"))
    )
    files = tuple((m.group(1).upper().replace("ADDED", "CREATED"), m.group(2))
                  for m in _FILE_LINE.finditer(_find(sections, "files modified", "files")))
    p0_body = _find(sections, "p0 discoveries", "p0")
    p0 = tuple(r for r in _table(p0_body) if any(v and v not in {"—", "-"} for v in r.values()))
    verification = _find(sections, "verification results", "verification")
    build = tests = None
    for line in verification.splitlines():
        found = _RESULT.search(line)
        if not found:
            continue
        if re.search(r"build", line, re.I) and build is None:
            build = found.group(1).upper()
        elif re.search(r"test", line, re.I) and tests is None:
            tests = found.group(1).upper()
    parked = _PARKED_SECTION.search(text)
    return CompletionReport(status.group(1).upper() if status else None, sections, tasks, files, p0, build, tests,
                            parked.group("body").strip() if parked else "")


def read_report(path: Path) -> CompletionReport | None:
    """The parsed report at ``path``, or None when it is absent or empty."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return None
    if not text.strip():
        return None
    return parse_report(text)
