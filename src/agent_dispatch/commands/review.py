"""``dispatch review`` (the automated RED TEAM checks) and ``dispatch accept`` (an accepted risk)."""

from __future__ import annotations

import json
from pathlib import Path

from agent_dispatch import git, operations, output
from agent_dispatch.commands.common import load_checked
from agent_dispatch.errors import FatalError
from agent_dispatch.naming.context import build_context, sprint_dir_for
from agent_dispatch.naming.paths import FINDINGS_FILENAME
from agent_dispatch.operations import FindingAccepted
from agent_dispatch.operations.findings import ACCEPT_NEEDS_REASON
from agent_dispatch.review import checks, gate4
from agent_dispatch.review.context import REVIEW_CONTEXT_FILENAME, write_review_context
from agent_dispatch.review.findings import counts, overall_recommendation
from agent_dispatch.review.regression import regression_rows
from agent_dispatch.review.report import render_findings
from agent_dispatch.review.run import review_branches
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog, events_path

REVIEW_DIRNAME = "review"
EXIT_BLOCKED = 1


def review_plan(plan_path: Path, *, repo: Path | None = None, as_json: bool = False, base: str | None = None) -> int:
    """Run the automated checks on the sprint's agent branches, record the findings in the sprint's
    log, write them (markdown, JSON, reviewer context) under ``.dispatch/<sprint>/review/`` and
    print them. Exit 1 when gate 4 blocks a branch."""
    loaded, _, root = load_checked(plan_path, repo)
    if root is None:
        raise FatalError(f"{plan_path} is not inside a git repository\nhint: run `git init` and commit first")
    plan = loaded.plan
    base = base or plan.sprint.base_branch
    if git.try_rev_parse(root, base) is None:
        raise FatalError(f"base {base!r} does not exist in {root}\nhint: pass --base <branch or commit>")
    context = build_context(plan, root, sprint_dir=sprint_dir_for(plan_path, root, plan.sprint.id),
                            repo_files=git.list_tracked_files(root))
    git.add_info_exclude(root, "/.dispatch/")
    with EventLog(events_path(root, plan.sprint.id), sprint=plan.sprint.id) as log:
        # Ids stay what the sprint's run (or an earlier review) gave the same findings.
        review = review_branches(root, plan, context, log, base=base)
        branches, findings, decisions = review.branches, review.findings, review.decisions
        pairs = [(b.agent.name, b.branch) for b in branches]
        # The tool's own test runs of each branch (gate 3), not "not run" (REQ-8.05).
        regression = regression_rows(log.read(types=[EventType.VERIFICATION]), pairs)
    folder = root / ".dispatch" / plan.sprint.id / REVIEW_DIRNAME
    folder.mkdir(parents=True, exist_ok=True)
    territories = {b.agent.name: ", ".join(b.agent.territory.include) for b in branches}
    accepted = {f.id: a.reason for d in decisions.values() for f, a in d.accepted}
    (folder / FINDINGS_FILENAME).write_text(
        render_findings(findings, sprint_id=plan.sprint.id, branches=pairs, territories=territories,
                        accepted=accepted, regression=regression, reviewer="automated checks (dispatch review)"),
        encoding="utf-8")
    reviewed = {name for name, _ in pairs}
    data = {"sprint": plan.sprint.id, "base": base, "branches": [b for _, b in pairs],
            "missing": [context.agent(a.name).branch for a in checks.reviewable_agents(plan, context)
                        if a.name not in reviewed],
            "counts": counts(findings), "recommendation": overall_recommendation(findings),
            "findings": [f.as_data() for f in findings],
            "gate4": {name: d.as_data() for name, d in decisions.items()}}
    (folder / "findings.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    write_review_context(root, context, branches, findings, folder / REVIEW_CONTEXT_FILENAME)
    blocked = any(not d.allowed for d in decisions.values())
    if as_json:
        output.write_json(data)
        return EXIT_BLOCKED if blocked else 0
    _print(data, decisions, folder, root)
    return EXIT_BLOCKED if blocked else 0


def _print(data: dict, decisions: dict[str, gate4.BranchDecision], folder: Path, root: Path) -> None:
    total = data["counts"]
    output.write(f"RED TEAM automated checks — {data['sprint']}: {len(data['branches'])} branch(es) against "
                 f"{data['base']}; {len(data['findings'])} finding(s): {total['CRITICAL']} CRITICAL, "
                 f"{total['HIGH']} HIGH, {total['MEDIUM']} MEDIUM, {total['LOW']} LOW")
    for branch in data["missing"]:
        output.write(f"  (no branch {branch} yet: not reviewed)")
    wheres = [f"{f['file']}:{f['line']}" if f["line"] else f["file"] for f in data["findings"]]
    width = max((len(w) for w in wheres), default=0)
    for f, where in zip(data["findings"], wheres):
        output.write(f"  {f['id']}  {f['severity']:<8}  {f['agent']:<10}  {where:<{width}}  {f['title']}")
    output.write("gate 4:" if decisions else "gate 4: no agent branch to decide yet")
    for name, decision in decisions.items():
        verdict = "may merge" if decision.allowed else "BLOCKED by " + ", ".join(f.id for f in decision.blocking)
        output.write(f"  {name}: {verdict}")
        for finding, acceptance in decision.accepted:
            how = "overridden" if acceptance.override else "accepted"
            output.write(f"    {finding.id} {finding.severity} {how}: {acceptance.reason}")
        for note in decision.notes:
            output.write(f"    note: {note}")
    blocked = [name for name, d in decisions.items() if not d.allowed]
    output.write(f"findings recommendation: {data['recommendation']}; gate 4: {len(blocked)} of {len(decisions)} "
                 f"branch(es) blocked; report: {folder.relative_to(root)}/{FINDINGS_FILENAME}")
    if blocked:
        output.write("hint: fix the branch, or `dispatch accept <id> --reason \"...\"` for a HIGH you accept")


def accept_finding(finding_id: str, *, reason: str, override: bool = False, sprint: str | None = None,
                   start: Path = Path(".")) -> FindingAccepted:
    """Record that the operator accepts the risk of finding ``finding_id`` (CRITICAL: ``override``)."""
    finding_id = operations.parse_finding_id(finding_id)  # a bad id or reason fails before the log is searched
    if not reason.strip():
        raise FatalError(ACCEPT_NEEDS_REASON)
    return operations.accept_finding(finding_id, reason=reason, override=override, sprint=sprint, start=start)
