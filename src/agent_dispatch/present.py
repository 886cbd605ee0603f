"""Presenters: the typed results of commands and operations, rendered as terminal text or JSON.

`show` picks the presenter for a result's type; each text presenter prints exactly what the
command printed before it returned a typed result. The exit code comes from the result
(``exit_code``, 0 when it has none), never from how it was printed.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from typing import Any

from rich.live import Live

from agent_dispatch import output
from agent_dispatch.commands.clean import CleanResult
from agent_dispatch.commands.conflicts import ConflictReport, PlannedOverlaps
from agent_dispatch.commands.status import EventListing
from agent_dispatch.commands.territory import TerritoryReport
from agent_dispatch.commands.validate import PlanValidation
from agent_dispatch.commands.workspaces import WorkspaceList
from agent_dispatch.errors import PlanError
from agent_dispatch.operations import (ChainReported, FindingAccepted, GateApproved, GateOverridden, MessageQueued,
                                       P0Reported)
from agent_dispatch.store.events import Event
from agent_dispatch.store.status import Status
from agent_dispatch.ui.board import board, resume_line


def show(result: Any, *, as_json: bool = False) -> int:
    """Print ``result`` (as JSON with ``as_json``) and return the exit code it carries."""
    if as_json:
        _JSON.get(type(result), write_json)(result)
    else:
        _TEXT[type(result)](result)
    return int(getattr(result, "exit_code", 0))


def as_data(result: Any) -> Any:
    """JSON-able data of any result: its ``as_data()``, or its dataclass fields."""
    if hasattr(result, "as_data"):
        return result.as_data()
    return dataclasses.asdict(result)


def write_json(result: Any) -> None:
    """The generic JSON presenter: ``as_data(result)``, indented."""
    output.write_json(as_data(result))


# -- operations --------------------------------------------------------------------------------

def chain_reported(result: ChainReported) -> None:
    """`dispatch chain`: the claim, and that the tool verifies it."""
    output.write(f"{result.agent}: chain {result.chain} → {result.state} "
                 "(recorded; the tool verifies it after your session)")


def p0_reported(result: P0Reported) -> None:
    """`dispatch p0`: recorded, and what the agent should (not) do now."""
    output.write(f"{result.agent}: P0 recorded — the operator is alerted; do not fix it outside your territory")


def gate_approved(result: GateApproved) -> None:
    """`dispatch approve`: the gate, and how to continue."""
    output.write(f"approved {result.gate}; continue with `{result.resume}`")


def gate_overridden(result: GateOverridden) -> None:
    """`dispatch override`: the gate with its reason, and how to continue."""
    output.write(f"overrode {result.gate} ({result.reason}); continue with `{result.resume}`")


def finding_accepted(result: FindingAccepted) -> None:
    """`dispatch accept`: the finding, and what the acceptance changes."""
    f = result.finding
    output.write(f"accepted {f.id} ({f.severity}, {f.agent}: {f.title}); {result.effect}")


def message_queued(result: MessageQueued) -> None:
    """`dispatch message`: which session will read it, and where it is."""
    when = "after its current session" if result.session_running else "when it starts"
    output.write(f"queued for {result.agent}'s session {result.attempt} ({when}): {result.file}")
    if result.carried:
        output.write(f"note: the {result.carried} message already waiting for that session is kept in the same file")


# -- commands ----------------------------------------------------------------------------------

def status_board(status: Status) -> None:
    """`dispatch status`: the board, once; when no orchestrator runs the sprint, how to resume it."""
    output.console.print(board(status))
    resume = resume_line(status)
    if resume:
        output.write(resume)


def watch_status(feed: Callable[[], Status], *, interval: float = 1.0) -> int:
    """Keep the board on screen, refreshed from ``feed``, until the sprint finishes (``status --watch``)."""
    with Live(board(feed()), console=output.console, refresh_per_second=2) as live:
        while True:
            status = feed()
            live.update(board(status))
            if status.finished:
                return 0
            time.sleep(interval)


def event_line(event: Event) -> str:
    """One event as a line of ``dispatch events`` (bulky data such as command output left out)."""
    when = datetime.datetime.fromtimestamp(event.ts).strftime("%H:%M:%S")
    who = "/".join(x for x in (event.agent, event.chain) if x) or "-"
    data = ", ".join(f"{k}={v!r}" for k, v in event.data.items() if k not in {"output", "record", "checks"})
    return f"{event.seq:>6} {when} {str(event.type):<22} {who:<22} {data}"


def event_lines(listing: EventListing) -> None:
    """`dispatch events`: one line per event (as they arrive with ``follow``)."""
    for event in listing.events:
        output.write(event_line(event))


def events_json(listing: EventListing) -> None:
    """`dispatch events --json`: one array, or one JSON line per event with ``follow``."""
    # A followed log never ends: JSON lines as events arrive instead of one array.
    if not listing.follow:
        output.write_json(listing.as_data())
        return
    for event in listing.events:
        output.write_json_line(event.as_data())


def plan_validation(result: PlanValidation) -> None:
    """`dispatch validate`: warnings on stderr and the summary, or every problem (exit 2)."""
    if not result.valid:
        raise PlanError(list(result.problems))  # printed like every plan error, exit 2
    for warning in result.problems:
        output.write_err(str(warning))
    checked = "" if result.territory_checked else " (not in a git repository: territory overlap not checked)"
    output.write(
        f"{result.plan}: valid — sprint {result.sprint}, {result.agents} agents in "
        f"{result.waves} waves, {result.chains} chains, {len(result.problems)} warning(s){checked}"
    )


def conflict_report(report: ConflictReport) -> None:
    """`dispatch conflicts`: counts, branches not created yet, each conflicting pair."""
    matrix, by_branch = report.matrix, report.agents
    merged = sum(p.method == "merge-tree" for p in matrix.pairs)
    output.write(f"{len(matrix.branches)} branches, {len(matrix.pairs)} pairs ({merged} merged, "
                 f"{len(matrix.pairs) - merged} proved clean by touched paths) in {report.seconds:.2f} s")
    if matrix.missing:
        output.write(f"not created yet: {', '.join(matrix.missing)} (dispatch workspaces up {report.plan_path})")
    for pair in matrix.conflicts:
        output.write(f"CONFLICT  {by_branch[pair.a]} × {by_branch[pair.b]}: {', '.join(pair.files)}")
    output.write(f"{len(matrix.conflicts)} conflicting pair(s)" if matrix.conflicts else "no conflicts")


def planned_overlaps(result: PlannedOverlaps) -> None:
    """`dispatch conflicts --planned`: one line per predicted overlap."""
    for o in result.overlaps:
        other = o.b or "(no owner)"
        wave = "same wave" if o.same_wave else "different waves"
        chains = f" [{', '.join(o.chains)}]" if o.chains else ""
        output.write(f"{o.kind:<27} {o.a} × {other} ({wave}): {', '.join(o.files)}{chains}")
    output.write(f"{len(result.overlaps)} planned overlap(s)" if result.overlaps else "no planned overlaps")


def workspace_list(result: WorkspaceList) -> None:
    """`dispatch workspaces list`: a table, one row per agent."""
    rows = result.rows
    width = max((len(r.agent) for r in rows), default=5)
    output.write(f"{'agent':<{width}}  {'state':<14}  ahead  dirty  report  branch / worktree")
    for r in rows:
        where = r.worktree if r.worktree_exists else "(no worktree)"
        output.write(f"{r.agent:<{width}}  {r.state:<14}  {r.ahead:>5}  {len(r.uncommitted):>5}  "
                     f"{'yes' if r.report_present else 'no':<6}  {r.branch}  {where}")


def territory_report(report: TerritoryReport) -> None:
    """`dispatch territory check`: the verdict, each violation and a hint."""
    agent, worktree, violations = report.agent, report.worktree, report.violations
    changed = report.changes.paths
    where = f"worktree {worktree}" if worktree else f"branch {report.branch} (no worktree: commits only)"
    if not violations:
        output.write(f"{agent}: {len(changed)} changed file(s) in {where}, all inside its territory")
        return
    output.write(f"{agent}: {len(violations)} of {len(changed)} changed file(s) in {where} "
                 "are outside its territory:")
    for violation in violations:
        output.write(f"  {violation}")
    output.write("hint: undo those changes (`git restore`/`git rm`, or revert the commit) and report what the "
                 "owner should change in the completion report")


def clean_result(result: CleanResult) -> None:
    """`dispatch clean`: one line per agent branch, then what was kept and how to drop it."""
    for item in result.items:
        where = f" ({item.worktree})" if item.worktree else ""
        verb = "removed" if item.removed else "kept   "
        output.write(f"{verb} {item.branch}{where}: {item.reason.removeprefix('kept: ')}")
    for path in result.scratch:
        output.write(f"removed validation worktree {path}")
    removed = sum(i.removed for i in result.items)
    output.write(f"sprint {result.sprint}: {removed} branch(es) removed, {len(result.kept)} kept"
                 if result.items else f"sprint {result.sprint}: no agent branches left")
    if result.kept:
        output.write(f"hint: land or save that work first; `dispatch clean --sprint {result.sprint} --force` "
                     "drops it for good")


_TEXT: dict[type, Callable[[Any], None]] = {
    ChainReported: chain_reported, P0Reported: p0_reported, GateApproved: gate_approved,
    GateOverridden: gate_overridden, FindingAccepted: finding_accepted, MessageQueued: message_queued,
    Status: status_board, EventListing: event_lines, PlanValidation: plan_validation,
    ConflictReport: conflict_report, PlannedOverlaps: planned_overlaps, WorkspaceList: workspace_list,
    TerritoryReport: territory_report, CleanResult: clean_result,
}
_JSON: dict[type, Callable[[Any], None]] = {EventListing: events_json}
