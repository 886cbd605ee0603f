"""The RED TEAM finding record, its severities and categories, and stable ``RT-XX-NNN`` numbering.

A finding is born without an id (a *draft*); `number_findings` sorts the drafts of a sprint in
one deterministic order and numbers them, so the same branches give the same ids on every run.
`merge_findings` adds the reviewer agent's findings after the automated ones, keeping the
reviewer's own ids unless they clash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_dispatch.naming.paths import sprint_label

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
BLOCKING_SEVERITIES = frozenset({"CRITICAL", "HIGH"})
CATEGORIES = ("Security", "Edge Case", "Regression", "Territory Violation", "Data Integrity",
              "Test Integrity", "Dependency", "Placeholder", "Binary")
SOURCES = ("automated", "reviewer")

_ID = re.compile(r"^RT-(?P<sprint>[A-Za-z0-9._-]+?)-(?P<number>\d{1,4})$")


@dataclass(frozen=True)
class Finding:
    """One RED TEAM finding (REQ-8.03). ``line`` is None when the finding is about a whole file."""

    id: str  # RT-<XX>-<NNN>; "" for a draft not yet numbered
    severity: str  # CRITICAL | HIGH | MEDIUM | LOW
    category: str
    agent: str
    branch: str
    file: str
    line: int | None
    title: str
    description: str = ""
    recommendation: str = ""
    source: str = "automated"  # automated | reviewer
    reproduction: str = ""
    impact: str = ""
    test: str = ""  # adversarial test, ``path:TestName``

    @property
    def blocking(self) -> bool:
        """True for CRITICAL and HIGH: they block their branch at gate 4 unless resolved."""
        return self.severity in BLOCKING_SEVERITIES

    @property
    def location(self) -> str:
        """``path:line``, or the path alone for a whole-file finding."""
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def fingerprint(self) -> str:
        """What the finding is about, without its id or line: an acceptance recorded for one
        finding must not silently apply to a different one that later got the same id."""
        key = "\0".join((self.agent, self.category, self.file, self.title.strip().lower()))
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]

    def as_data(self) -> dict[str, Any]:
        """A JSON-able dict (the ``finding`` event's data, ``dispatch review --json``)."""
        return {**dataclasses.asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Finding:
        """The finding :meth:`as_data` wrote (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        line = values.get("line")
        values["line"] = int(line) if isinstance(line, (int, str)) and str(line).isdigit() else None
        return cls(**values)


def finding_id(sprint_id: str, number: int) -> str:
    """``("sprint-01", 3)`` → ``"RT-01-003"``."""
    return f"RT-{sprint_label(sprint_id)}-{number:03d}"


def id_number(text: str) -> int | None:
    """The NNN of ``RT-XX-NNN`` as an int, or None when ``text`` is no finding id."""
    match = _ID.match(text.strip())
    return int(match["number"]) if match else None


def is_finding_id(text: str) -> bool:
    """True for ``RT-<XX>-<NNN>``."""
    return id_number(text) is not None


def sort_key(finding: Finding, agent_order: Mapping[str, int] | None = None) -> tuple:
    """Agent (plan order, else name), then severity, category, file, line, title."""
    order = agent_order or {}
    return (order.get(finding.agent, len(order)), finding.agent, SEVERITY_RANK.get(finding.severity, 9),
            finding.category, finding.file, finding.line or 0, finding.title, finding.description)


def number_findings(drafts: Iterable[Finding], sprint_id: str, *, agent_order: Sequence[str] = (),
                    start: int = 1) -> list[Finding]:
    """Sort ``drafts`` deterministically and give them ids ``RT-XX-<start>``, ``<start+1>``, ...

    Exact duplicates (same agent, category, file, line and title) are kept once.
    """
    order = {name: i for i, name in enumerate(agent_order)}
    unique: dict[tuple, Finding] = {}
    for draft in drafts:
        unique.setdefault((draft.agent, draft.category, draft.file, draft.line, draft.title), draft)
    ranked = sorted(unique.values(), key=lambda f: sort_key(f, order))
    return [dataclasses.replace(f, id=finding_id(sprint_id, start + i)) for i, f in enumerate(ranked)]


def stable_ids(drafts: Sequence[Finding], recorded: Sequence[Finding], sprint_id: str) -> list[Finding]:
    """``drafts`` with the ids their fingerprints had before; unseen ones numbered after the last id.

    Findings that differ only in their line (two placeholders in one file) share a fingerprint:
    the n-th draft with a fingerprint takes the n-th id recorded for it, so none is lost.
    """
    known: dict[str, list[str]] = defaultdict(list)
    for finding in sorted({f.id: f for f in recorded}.values(), key=lambda f: id_number(f.id) or 0):
        known[finding.fingerprint].append(finding.id)
    next_number = max((id_number(f.id) or 0 for f in recorded), default=0) + 1
    seen: Counter[str] = Counter()
    out = []
    for draft in drafts:
        ids, n = known[draft.fingerprint], seen[draft.fingerprint]
        seen[draft.fingerprint] += 1
        if n >= len(ids):
            ids.append(finding_id(sprint_id, next_number))
            next_number += 1
        out.append(dataclasses.replace(draft, id=ids[n]))
    return out


def merge_findings(automated: Sequence[Finding], reviewer: Sequence[Finding], sprint_id: str) -> list[Finding]:
    """Automated findings, then the reviewer's; a reviewer finding that restates an automated one
    (same id, or same fingerprint) is dropped, one whose id is missing or taken gets the next free id."""
    taken = {f.id for f in automated}
    prints = {f.fingerprint for f in automated}
    out = list(automated)
    later: list[Finding] = []
    for finding in reviewer:
        if finding.fingerprint in prints:
            continue
        if finding.id and is_finding_id(finding.id) and finding.id not in taken:
            taken.add(finding.id)
            out.append(finding)
        else:
            later.append(finding)
    next_number = max((id_number(i) or 0 for i in taken), default=0) + 1
    for finding in later:
        out.append(dataclasses.replace(finding, id=finding_id(sprint_id, next_number)))
        next_number += 1
    return out


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per severity, every severity present (zero when none)."""
    result = {s: 0 for s in SEVERITIES}
    for finding in findings:
        result[finding.severity] = result.get(finding.severity, 0) + 1
    return result


def branch_recommendation(findings: Iterable[Finding]) -> str:
    """BLOCKED with a CRITICAL, CONDITIONAL with a HIGH (mergeable once accepted), else CLEAR."""
    severities = {f.severity for f in findings}
    if "CRITICAL" in severities:
        return "BLOCKED"
    return "CONDITIONAL" if "HIGH" in severities else "CLEAR"


def overall_recommendation(findings: Iterable[Finding]) -> str:
    """The sprint-level merge recommendation: CLEAR TO MERGE / CONDITIONAL / BLOCKED."""
    worst = branch_recommendation(findings)
    return "CLEAR TO MERGE" if worst == "CLEAR" else worst
