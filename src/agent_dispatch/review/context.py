"""The RED TEAM reviewer's input (REQ-8.01, REQ-8.05): one markdown file with, per agent branch,
the diffstat, the diff (capped), the completion report and the automated findings.

The reviewer agent's prompt names this file; the agent reads it instead of exploring every branch
itself, and writes ``red-team-findings.md`` in the shape the instructions at the top describe.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.naming.context import SprintContext
from agent_dispatch.naming.paths import findings_path, sprint_label
from agent_dispatch.redact import redact
from agent_dispatch.review.checks import BranchDiff
from agent_dispatch.review.findings import Finding, finding_id, id_number

REVIEW_CONTEXT_FILENAME = "red-team-context.md"
MAX_DIFF_CHARS = 60_000  # per branch; the rest is left out with a note and a command to see it
MAX_REPORT_CHARS = 20_000


def _fence(text: str, language: str = "") -> list[str]:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{language}", text.rstrip("\n"), ticks]


def _capped(text: str, limit: int, hint: str) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    cut = cut if cut > 0 else limit
    return text[:cut] + f"\n... [{len(text) - cut:,} more characters left out; see: {hint}]\n"


def _findings_table(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return ["None."]
    rows = ["| ID | Severity | Category | File | Title |", "|---|---|---|---|---|"]
    for f in findings:
        rows.append(f"| {f.id} | {f.severity} | {f.category} | `{f.location}` | {f.title.replace('|', '/')} |")
    return rows


def instructions(context: SprintContext, findings: Sequence[Finding], *, findings_file: str) -> list[str]:
    """What the reviewer must do and how to write its report so the tool can read it."""
    label = sprint_label(context.sprint_id)
    next_id = finding_id(context.sprint_id, max((id_number(f.id) or 0 for f in findings), default=0) + 1)
    return [
        "## Your task", "",
        f"Review every branch below (depth over breadth: the riskiest first). Write `{findings_file}` "
        "in your worktree and commit it. For every finding give Severity (CRITICAL/HIGH/MEDIUM/LOW), "
        "Category, File as `path:line`, Description, Reproduction, Impact, Adversarial Test "
        "(`path:TestName`, required for CRITICAL and HIGH) and Recommendation.", "",
        f"Use the headings `### {context.sprint_id}/<agent-name>` and `#### RT-{label}-NNN: Title` with a "
        "`| Field | Value |` table, or one table with the columns "
        "`ID | Severity | Agent | File | Description | Reproduction | Test name | Recommendation`.", "",
        f"The automated findings below are already recorded: do not repeat them. Number your own "
        f"findings from {next_id} on. A finding without a severity or a file is rejected.", "",
    ]


def render_review_context(root: Path, context: SprintContext, branches: Sequence[BranchDiff],
                          findings: Sequence[Finding], *, findings_file: str | None = None,
                          max_diff_chars: int = MAX_DIFF_CHARS) -> str:
    """The reviewer's input as markdown (see `write_review_context`)."""
    target = findings_file or findings_path(context.sprint_id, directory=context.sprint_dir)
    lines = [f"# RED TEAM review context — {context.sprint_id}", "",
             f"Branches: {len(branches)}. Each diff is against the branch's merge base with the base branch.", ""]
    lines += instructions(context, findings, findings_file=target)
    lines += ["## Branches", "", "| Agent | Branch | Merge base | Tip | Files | Findings |",
              "|---|---|---|---|---|---|"]
    for b in branches:
        mine = [f for f in findings if f.agent == b.agent.name]
        lines.append(f"| {b.agent.name} | {b.branch} | {b.base[:10]} | {b.tip[:10]} | {len(b.files)} | {len(mine)} |")
    lines.append("")
    for b in branches:
        lines += _branch_section(root, context, b, [f for f in findings if f.agent == b.agent.name], max_diff_chars)
    return "\n".join(lines) + "\n"


def _branch_section(root: Path, context: SprintContext, b: BranchDiff, findings: Sequence[Finding],
                    max_diff_chars: int) -> list[str]:
    ctx = context.agent(b.agent.name)
    territory = ", ".join(b.agent.territory.include) + (
        f" (except {', '.join(b.agent.territory.exclude)})" if b.agent.territory.exclude else "")
    lines = [f"## {b.branch}", "", f"Agent: {b.agent.name} ({b.agent.role}, {ctx.codename})",
             f"Territory: {territory}",
             f"Chains: {', '.join(c.id + ' ' + c.title for c in b.agent.chains) or 'none'}", "",
             "### Diffstat", ""]
    lines += _fence(git.diff_stat(root, b.base, b.tip) or "(no changes)\n")
    lines += ["", "### Automated findings", ""] + _findings_table(findings)
    report = git.show_file(root, b.tip, ctx.report)
    lines += ["", f"### Completion report (`{ctx.report}`)", ""]
    lines += _fence(_capped(report, MAX_REPORT_CHARS, f"git show {b.branch}:{ctx.report}"), "markdown") if report \
        else ["(missing: the branch has no completion report)"]
    patch = _capped(git.diff_patch(root, b.base, b.tip), max_diff_chars, f"git diff {b.base[:10]}...{b.branch}")
    lines += ["", "### Diff", ""] + _fence(patch or "(empty)\n", "diff") + [""]
    return lines


def write_review_context(root: Path, context: SprintContext, branches: Sequence[BranchDiff],
                         findings: Sequence[Finding], path: Path, *, findings_file: str | None = None,
                         max_diff_chars: int = MAX_DIFF_CHARS) -> Path:
    """Write the reviewer's input to ``path`` and return it.

    ``branches`` come from `checks.load_branches` and ``findings`` from `checks.run_checks`;
    ``findings_file`` is the repository path the reviewer must write (default: the sprint's
    ``red-team-findings.md``).
    """
    text = render_review_context(root, context, branches, findings, findings_file=findings_file,
                                 max_diff_chars=max_diff_chars)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(text), encoding="utf-8")  # diffs may quote a key an agent committed
    return path
