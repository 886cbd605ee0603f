"""Gate 3 (agent complete): the tool's own facts decide, the report is cross-checked against them."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_dispatch import git
from agent_dispatch.artifacts.completion import CompletionReport, read_report
from agent_dispatch.checkrun import CheckResult
from agent_dispatch.naming.context import git_identity
from agent_dispatch.plan.model import Agent, Plan
from agent_dispatch.plan.territory import territory_violations
from agent_dispatch.plan.verify import verify_command

DONE_STATES = {"COMPLETE"}
SETTLED_STATES = {"COMPLETE", "PARKED", "SKIPPED"}


@dataclass
class GateResult:
    ok: bool
    failures: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # report vs git (INT-03), recorded, not blocking
    facts: dict[str, Any] = field(default_factory=dict)


def removed_lines_by_file(root: Path, base: str, tip: str) -> dict[str, int]:
    """Lines removed per path changed in ``base...tip`` (0 for binary files)."""
    return {path: removed or 0 for path, (_, removed) in git.numstat(root, base, tip).items()}


def gate3(
    *,
    plan: Plan,
    agent: Agent,
    worktree: Path,
    base: str,
    report_path: str,
    chain_states: Mapping[str, str],
    checks: Sequence[CheckResult],
) -> GateResult:
    """Evaluate gate 3 for ``agent`` from its worktree, the chain states and the tool's last checks."""
    result = GateResult(ok=True)
    report = read_report(worktree / report_path)
    if report is None or not report.is_substantive:
        result.failures.append(f"no completion report at {report_path}" if report is None
                               else f"completion report at {report_path} states no status, tasks or files")
    for chain in agent.chains:
        state = chain_states.get(chain.id, "QUEUED")
        if chain.priority in {"P0", "P1"} and state not in SETTLED_STATES:
            why = f"{chain.priority} chain {chain.id} is {state}, not COMPLETE or PARKED"
            if verify_command(chain) is None:  # say what is missing, so no one waits for a check that never runs
                why += (f": its verify is prose, so it needs the agent's COMPLETE claim (`dispatch chain {chain.id} "
                        "COMPLETE` or its row in the report's Tasks Completed) with build and tests passing")
            result.failures.append(why)
    failed = [c for c in checks if c.kind in {"build", "test"} and not c.ok]
    if failed or not any(c.kind == "test" for c in checks):
        result.failures += [f"{c.kind} failed: `{c.command}` exit {c.returncode}" for c in failed] or ["tests were not run"]
    uncommitted = git.uncommitted_files(worktree)
    if uncommitted:
        result.failures.append(f"uncommitted changes: {', '.join(uncommitted[:5])}")
    changed = git.changed_files(worktree, base, "HEAD")
    paths = [p for _, p in changed]
    violations = territory_violations(plan, agent, paths + uncommitted, allowed=[report_path],
                                      removed_lines=removed_lines_by_file(worktree, base, "HEAD"))
    for path, owner in violations:
        result.failures.append(f"territory: {path} is outside {agent.name}'s territory"
                               + (f" ({owner} owns it)" if owner else ""))
    for path, target in escaping_symlinks(worktree, base):
        result.failures.append(f"symlink {path} points out of the worktree (to {target}): "
                               "a checkout of the base branch would follow it")
    foreign = foreign_authored(plan, agent, worktree, base)
    for commit in foreign:
        result.failures.append(f"commit {commit['commit'][:12]} is authored by {commit['author']}, "
                               f"the identity of agent {commit['agent']}")
    added, removed = git.shortstat(worktree, base, "HEAD")
    result.facts = {"files": [{"status": s, "path": p} for s, p in changed], "lines_added": added,
                    "lines_removed": removed, "violations": [p for p, _ in violations],
                    "report": report is not None, "foreign_authors": foreign}
    if report is not None:
        result.mismatches = _mismatches(report, paths, report_path, checks)
    result.ok = not result.failures
    return result


def escaping_symlinks(worktree: Path, base: str) -> list[tuple[str, str]]:
    """(path, target) of the symlinks the branch adds whose target is absolute or climbs out of
    the repository: landed, they would point every checkout of the base branch at the machine."""
    found = []
    for path, target in git.added_symlinks(worktree, base, "HEAD"):
        inside = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if posixpath.isabs(target) or inside == ".." or inside.startswith("../"):
            found.append((path, target))
    return found


def foreign_authored(plan: Plan, agent: Agent, worktree: Path, base: str) -> list[dict[str, str]]:
    """Commits in ``base..HEAD`` of ``agent``'s worktree whose author is another agent of the plan
    (its identity's email, or its name): ``{"commit", "author", "agent"}`` each.

    Why: agents once shared one repository config, so one agent's ``git config user.email``
    rewrote the author of every other agent's commits; landed, the wrong name stays in history.
    """
    own_name, own_email = git_identity(plan, agent.name)
    others = [(other.name, *git_identity(plan, other.name)) for other in plan.agents if other.name != agent.name]
    found = []
    for commit, name, email in git.commit_authors(worktree, base, "HEAD"):
        if email.lower() == own_email.lower():
            continue
        for other, other_name, other_email in others:
            if email.lower() == other_email.lower() or (name == other_name and name != own_name):
                found.append({"commit": commit, "author": f"{name} <{email}>", "agent": other})
                break
    return found


def _mismatches(report: CompletionReport, paths: Sequence[str], report_path: str, checks: Sequence[CheckResult]) -> list[str]:
    out = []
    actual = set(paths) - {report_path}
    claimed = report.files_claimed - {report_path}
    for path in sorted(actual - claimed):
        out.append(f"report omits changed file {path}")
    for path in sorted(claimed - actual):
        out.append(f"report lists {path}, which the branch does not change")
    by_kind = {c.kind: c for c in checks}
    for kind, claim in (("build", report.build), ("test", report.tests)):
        if claim and kind in by_kind and (claim == "PASS") != by_kind[kind].ok:
            out.append(f"report says {kind} {claim}, the tool's run says {'PASS' if by_kind[kind].ok else 'FAIL'}")
    return out
