"""``red-team-findings.md`` (REQ-8.03): render it from findings, and parse a reviewer-written one.

The parser is lenient like the completion-report parser: per-finding sections (``#### RT-01-003:
Title`` with a field table, bullets or ``Field: value`` lines) and the short table form
(``ID | Severity | Agent | File | Description | Reproduction | Test name | Recommendation``) are
both read. A finding without a severity, a file or an agent is returned as *invalid* with the
reason, never dropped in silence.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent_dispatch.naming.context import AgentContext
from agent_dispatch.naming.paths import branch_name, sprint_label
from agent_dispatch.review.findings import (
    CATEGORIES,
    Finding,
    branch_recommendation,
    counts,
    is_finding_id,
    overall_recommendation,
)

_FIELDS = (("Severity", "severity"), ("Category", "category"), ("Agent", "agent"), ("File", "location"),
           ("Description", "description"), ("Reproduction", "reproduction"), ("Impact", "impact"),
           ("Adversarial Test", "test"), ("Recommendation", "recommendation"), ("Source", "source"))

SEVERITY_REFERENCE = (
    ("CRITICAL", "Security vulnerability, data corruption, auth bypass",
     "BLOCKS merge; only an operator override lets it through"),
    ("HIGH", "Race condition, missing validation, unhandled error on a critical path",
     "BLOCKS merge unless fixed or accepted with a recorded reason"),
    ("MEDIUM", "Unhandled edge case, missing coverage, poor error message",
     "No block; fix this sprint or carry forward (P2)"),
    ("LOW", "Style, minor issue, documentation gap", "No block; noted"),
)


def _cell(text: object) -> str:
    value = str(text).strip() if text not in (None, "") else "—"
    return value.replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def _row(*cells: object) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _value(finding: Finding, attribute: str) -> str:
    if attribute == "location":
        return f"`{finding.location}`" if finding.file else ""
    return str(getattr(finding, attribute) or "")


def render_findings(findings: Sequence[Finding], *, sprint_id: str, branches: Sequence[tuple[str, str]],
                    territories: Mapping[str, str] | None = None, date: str | None = None,
                    regression: Sequence[Mapping[str, object]] = (), accepted: Mapping[str, str] | None = None,
                    reviewer: str = "RED TEAM (Agent R)") -> str:
    """The findings report for ``branches`` ((agent, branch) pairs reviewed, in merge order).

    ``territories`` maps agent → its territory (for the Territory Violations table); ``regression``
    rows have keys branch, run, passed, failed, new_failures (omitted: "not run"); ``accepted``
    maps finding id → the recorded reason of its acceptance (shown with the finding and in the
    merge recommendations).
    """
    accepted = accepted or {}
    total = counts(findings)
    by_agent = {agent: [f for f in findings if f.agent == agent] for agent, _ in branches}
    reviewed = sum(1 for agent, _ in branches if agent in by_agent)
    lines = [f"# RED TEAM Findings — Sprint {sprint_label(sprint_id)}", "",
             f"Sprint: {sprint_id}", f"Reviewed by: {reviewer}",
             f"Date: {date or datetime.date.today().isoformat()}", "", "## Summary", "",
             f"- Branches reviewed: {reviewed} of {len(branches)}", f"- Total findings: {len(findings)}",
             f"- CRITICAL (blocks merge): {total['CRITICAL']}", f"- HIGH (blocks merge): {total['HIGH']}",
             f"- MEDIUM: {total['MEDIUM']}", f"- LOW: {total['LOW']}",
             f"- Merge recommendation: {overall_recommendation(findings)}", "", "## Findings by Agent Branch", ""]
    for agent, branch in branches:
        lines += [f"### {branch}", ""]
        if not by_agent[agent]:
            lines += ["No findings.", ""]
        for finding in by_agent[agent]:
            lines += [f"#### {finding.id}: {finding.title}", "", "| Field | Value |", "|---|---|"]
            lines += [_row(f"**{label}**", _value(finding, attribute)) for label, attribute in _FIELDS]
            if finding.id in accepted:
                lines.append(_row("**Accepted Risk**", accepted[finding.id]))
            lines.append("")
    orphans = [f for f in findings if f.agent not in by_agent]
    if orphans:
        lines += ["### Other findings", ""]
        lines += [_row(f.id, f.severity, f.agent, f.location, f.title) for f in orphans] + [""]
    lines += _regression(branches, regression) + _territory(findings, territories or {})
    lines += _merge(branches, by_agent, accepted)
    lines += ["## Severity Reference", "", "| Severity | Meaning | Merge impact |", "|---|---|---|"]
    lines += [_row(*row) for row in SEVERITY_REFERENCE]
    return "\n".join(lines) + "\n"


def _regression(branches: Sequence[tuple[str, str]], rows: Sequence[Mapping[str, object]]) -> list[str]:
    out = ["## Regression Test Results", "", "| Branch | Tests Run | Passed | Failed | New Failures |",
           "|---|---|---|---|---|"]
    by_branch = {str(r.get("branch")): r for r in rows}
    for _, branch in branches:
        r = by_branch.get(branch, {})
        out.append(_row(branch, r.get("run", "not run"), r.get("passed", ""), r.get("failed", ""),
                        r.get("new_failures", "")))
    return out + [""]


def _territory(findings: Sequence[Finding], territories: Mapping[str, str]) -> list[str]:
    rows: dict[tuple[str, str], str] = {}
    for f in findings:
        if f.category == "Territory Violation":
            verdict = "YES" if "outside" in f.title or f.severity in {"CRITICAL", "HIGH"} else "overlap"
            if rows.get((f.agent, f.file)) != "YES":
                rows[(f.agent, f.file)] = verdict
    out = ["## Territory Violations", ""]
    if not rows:
        return out + ["None.", ""]
    out += ["| Agent | File Modified | Expected Territory | Violation? |", "|---|---|---|---|"]
    out += [_row(agent, f"`{path}`", territories.get(agent, ""), verdict)
            for (agent, path), verdict in sorted(rows.items())]
    return out + [""]


def _merge(branches: Sequence[tuple[str, str]], by_agent: Mapping[str, list[Finding]],
           accepted: Mapping[str, str]) -> list[str]:
    out = ["## Merge Recommendations", "", "| Branch | Recommendation | Blocking Findings | Notes |",
           "|---|---|---|---|"]
    for agent, branch in branches:
        found = by_agent.get(agent, [])
        blocking = ", ".join(f.id for f in found if f.blocking) or "none"
        recommendation = branch_recommendation(found)
        notes = [{"BLOCKED": "CRITICAL findings must be fixed", "CONDITIONAL": "HIGH findings need a fix or an "
                  "accepted risk (`dispatch accept <id> --reason`)", "CLEAR": ""}[recommendation]]
        notes += [f"{f.id} accepted: {accepted[f.id]}" for f in found if f.id in accepted]
        others = sum(1 for f in found if not f.blocking)
        notes.append(f"{others} non-blocking" if others else "")
        out.append(_row(branch, recommendation, blocking, "; ".join(n for n in notes if n)))
    return out + [""]


# -- parsing --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvalidFinding:
    """A reviewer finding the tool could not accept, and why."""

    id: str
    title: str
    reason: str
    line: int  # line of the report where it starts


@dataclass(frozen=True)
class ParsedFindings:
    """What `parse_findings` read: valid findings, rejected ones with reasons, and warnings."""

    findings: list[Finding] = field(default_factory=list)
    invalid: list[InvalidFinding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # REQ-8.05: CRITICAL/HIGH without reproduction or test


_KEYS = {"severity": "severity", "sev": "severity", "category": "category", "type": "category",
         "agent": "agent", "owner": "agent", "branch": "branch", "file": "file", "location": "file",
         "file:line": "file", "path": "file", "line": "line", "description": "description", "details": "description",
         "reproduction": "reproduction", "repro": "reproduction", "steps to reproduce": "reproduction",
         "impact": "impact", "adversarial test": "test", "test name": "test", "test": "test",
         "recommendation": "recommendation", "fix": "recommendation", "remediation": "recommendation",
         "title": "title", "finding": "title", "summary": "title", "source": "source", "id": "id"}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BRANCH = re.compile(r"\b([A-Za-z0-9][\w.-]*/([a-z0-9][a-z0-9-]*))\b")
_FIELD_LINE = re.compile(
    r"^\s*(?:[-*+]\s*)?(?:\*\*|__)?([A-Za-z][A-Za-z :/]{1,30}?)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.*)$")
_EMPTY = {"", "—", "–", "-", "n/a", "na", "none", "null", "tbd", "?"}


def _clean(text: str) -> str:
    text = text.replace("<br>", "\n").replace("\\|", "|").strip()
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # [text](link) → text
    bold = re.fullmatch(r"\*\*?(.+?)\*\*?", text.strip())
    text = (bold[1] if bold else text).strip()
    return "" if text.lower() in _EMPTY else text


def _key(label: str) -> str | None:
    return _KEYS.get(re.sub(r"[*_`:]", "", label).strip().lower())


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def split_location(text: str) -> tuple[str, int | None]:
    """``"app/x.py:12"``, ``"app/x.py#L12"``, ``"app/x.py (line 12)"`` → (path, line)."""
    value = _clean(text).strip("`").strip()
    match = re.match(r"^(?P<path>.+?)(?::|#L|\s*\(?,?\s*lines?\s+)(?P<line>\d+)(?:[-–:]\d+)*\)?$", value)
    if match:
        return match["path"].strip("` "), int(match["line"])
    return value.strip("` "), None


def _severity(text: str) -> str | None:
    match = re.search(r"\b(CRITICAL|CRIT|HIGH|MEDIUM|MED|LOW)\b", text, re.I)
    return {"CRIT": "CRITICAL", "MED": "MEDIUM"}.get(match[1].upper(), match[1].upper()) if match else None


def _category(text: str) -> str:
    return next((c for c in CATEGORIES if c.lower() == text.lower()), text)


def agent_aliases(agents: Sequence[AgentContext]) -> dict[str, str]:
    """Lowercased ways a reviewer may name an agent → its name: name, branch, letter ("b",
    "agent b"), codename and role (a role two agents share is left out)."""
    out: dict[str, str] = {}
    roles: dict[str, set[str]] = {}
    for a in agents:
        for alias in (a.name, a.branch, a.letter, f"agent {a.letter}", f"agent-{a.letter}", a.codename):
            out.setdefault(alias.lower(), a.name)
        for role in (a.role.lower(), a.base_role.lower()):
            roles.setdefault(role, set()).add(a.name)
    for role, names in roles.items():
        if len(names) == 1:
            out.setdefault(role, next(iter(names)))
    return out


def _agent_in(text: str, aliases: Mapping[str, str] | None) -> str:
    """The agent ``text`` names (a field value or a heading), or ""."""
    text = text.strip("`* ").lower()
    branch = _BRANCH.search(text)
    if aliases is None:
        return branch[2] if branch else text if text and " " not in text else ""
    if text in aliases:
        return aliases[text]
    if branch and (branch[1] in aliases or branch[2] in aliases):
        return aliases.get(branch[1]) or aliases[branch[2]]
    words = re.findall(r"agent[ -][a-z0-9]+|[a-z0-9][a-z0-9-]*", text)
    return next((aliases[w] for w in words if w in aliases), "")


def _resolve_agent(fields: Mapping[str, str], context: str, aliases: Mapping[str, str] | None) -> str:
    for text in (fields.get("agent", ""), fields.get("branch", ""), context):
        name = _agent_in(text, aliases)
        if name:
            return name
    return ""


def _fields_from_body(body: Sequence[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in body:
        if line.strip().startswith("|"):
            cells = _cells(line)
            key = _key(cells[0]) if len(cells) >= 2 else None
            if key and key not in fields:
                fields[key] = _clean(cells[1])
            continue
        match = _FIELD_LINE.match(line)
        key = _key(match[1]) if match else None
        if match and key and key not in fields:
            fields[key] = _clean(match[2])
    return fields


def _scan(lines: Sequence[str]) -> list[tuple[int, dict[str, str], str]]:
    """(report line, fields, branch heading in force) for every finding section and short-table row."""
    items: list[tuple[int, dict[str, str], str]] = []
    context, i = "", 0
    while i < len(lines):
        heading = _HEADING.match(lines[i])
        if heading:
            level, text = len(heading[1]), _clean(heading[2])
            found = re.search(r"\bRT-[A-Za-z0-9._\[\]-]+", text)
            if not found:
                if _BRANCH.search(text.lower()) or level == 3:
                    context = text
                elif level <= 2:
                    context = ""
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines)) if _HEADING.match(lines[j]) or _is_short_header(lines[j])),
                       len(lines))
            fields = _fields_from_body(lines[i + 1:end])
            title = text[found.end():].lstrip(" :—–-").strip() or text[:found.start()].strip(" :—–-[]")
            fields["id"] = found[0]
            fields.setdefault("title", title)
            items.append((i + 1, fields, context))
            i = end
            continue
        if lines[i].strip().startswith("|"):
            end = next((j for j in range(i, len(lines)) if not lines[j].strip().startswith("|")), len(lines))
            items += _short_table(lines, i, end, context)
            i = end
            continue
        i += 1
    return items


def _is_short_header(line: str) -> bool:
    """True for the header row of the short table form (it has ID and Severity columns)."""
    keys = {_key(c) for c in _cells(line)} if line.strip().startswith("|") else set()
    return {"id", "severity"} <= keys


def _short_table(lines: Sequence[str], start: int, end: int, context: str) -> list[tuple[int, dict[str, str], str]]:
    if not _is_short_header(lines[start]):
        return []
    header = [_key(c) or "" for c in _cells(lines[start])]
    out = []
    for j in range(start + 1, end):
        cells = _cells(lines[j])
        if all(set(c) <= set("-: ") for c in cells):
            continue
        fields = {k: _clean(v) for k, v in zip(header, cells) if k}
        if any(fields.values()):
            out.append((j + 1, fields, context))
    return out


def _to_finding(line: int, fields: Mapping[str, str], context: str, sprint_id: str,
                aliases: Mapping[str, str] | None) -> Finding | InvalidFinding:
    fid = fields.get("id", "").strip("`* ")
    title = fields.get("title") or fields.get("description", "").split(". ")[0][:80]
    severity = _severity(fields.get("severity", ""))
    path, number = split_location(fields.get("file", ""))
    if number is None and fields.get("line", "").isdigit():
        number = int(fields["line"])
    agent = _resolve_agent(fields, context, aliases)
    problems = [reason for reason, bad in (("no severity (CRITICAL/HIGH/MEDIUM/LOW)", severity is None),
                                           ("no file", not path), ("names no known agent branch", not agent)) if bad]
    if problems or severity is None:
        return InvalidFinding(fid, title, "; ".join(problems), line)
    named = _BRANCH.search(fields.get("branch", "") or context)
    branch = named[1] if named and named[2] == agent else branch_name(sprint_id, agent) if sprint_id else ""
    source = fields.get("source", "").lower()
    return Finding(fid if is_finding_id(fid) else "", severity, _category(fields.get("category", "")), agent,
                   branch, path, number, title, fields.get("description", ""), fields.get("recommendation", ""),
                   source if source in ("automated", "reviewer") else "reviewer", fields.get("reproduction", ""),
                   fields.get("impact", ""), fields.get("test", "").strip("`"))


def parse_findings(text: str, *, sprint_id: str = "", agents: Mapping[str, str] | None = None) -> ParsedFindings:
    """Findings written by the reviewer agent in ``text``; never raises on odd input.

    ``agents`` (from `agent_aliases`) resolves how the reviewer named agents; without it the
    agent is the last part of the branch (``sprint-01/backend`` → ``backend``) or as written.
    The template's example entry (``RT-[XX]-NNN``) is skipped; a repeated id is read once.
    """
    result = ParsedFindings()
    seen: set[str] = set()
    for line, fields, context in _scan(text.splitlines()):
        fid = fields.get("id", "").strip("`* ")
        if re.search(r"\[|XX|NNN", fid) or (fid and fid in seen):
            continue
        seen.add(fid)
        item = _to_finding(line, fields, context, sprint_id, agents)
        if isinstance(item, InvalidFinding):
            result.invalid.append(item)
            continue
        result.findings.append(item)
        missing = [name for name, value in (("reproduction", item.reproduction), ("adversarial test", item.test))
                   if not value]
        if item.blocking and item.source == "reviewer" and missing:
            result.warnings.append(f"{fid or item.title}: {item.severity} without {' or '.join(missing)} (REQ-8.05)")
    return result


def read_findings(path: str | Path, *, sprint_id: str = "",
                  agents: Mapping[str, str] | None = None) -> ParsedFindings | None:
    """The parsed findings file at ``path``, or None when it is absent or empty."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return None
    return parse_findings(text, sprint_id=sprint_id, agents=agents) if text.strip() else None
