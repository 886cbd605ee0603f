"""What the hooks installed in agent worktrees run: ``python -I -m agent_dispatch.workspace.hook_entry
<pre-commit|claude> <rules.json> [<events.db>]``.

With the sprint's event log named, every refusal is also appended to it as a ``territory_rejected``
event, through the same `store.log.EventLog` that `dispatch chain` uses from inside a worktree
(appends take ``BEGIN IMMEDIATE`` with a busy timeout, so the running engine and the hooks of
every agent can write at once). Recording never changes the verdict: a log that cannot be written
is reported on stderr and the refusal stands.

Kept light on purpose (no plan loading, no pydantic, no rich): it runs on every commit and, for
Claude Code, before every file edit. Messages go straight to stderr (git shows them to the agent)
or, for Claude Code, into the JSON decision the agent receives.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agent_dispatch.ownership import TerritoryRules, Violation
from agent_dispatch.workspace.rules import read_rules


def staged_changes(worktree: Path) -> dict[str, int]:
    """Lines removed per path the commit being made changes (its own edits only during a merge)."""
    from agent_dispatch import git  # here, not at the top: the Claude Code edit hook needs no git

    index = os.environ.get("GIT_INDEX_FILE")
    if index and not os.path.isabs(index):
        index = str(worktree / index)
    removed = git.numstat_removed(worktree, "--cached", "HEAD", index_file=index)
    if removed and git.is_merging(worktree):
        # Concluding a merge: files taken as they are from the merged branch are not this agent's edits.
        theirs = git.numstat_removed(worktree, "--cached", "MERGE_HEAD", index_file=index)
        removed = {path: n for path, n in removed.items() if path in theirs}
    return removed


def refusal(rules: TerritoryRules, violations: Sequence[Violation]) -> str:
    """The message that explains a refused commit and what to do instead."""
    lines = [f"dispatch: commit refused: {len(violations)} staged file(s) outside the territory "
             f"of agent {rules.agent}:"]
    lines += [f"  {v}" for v in violations]
    owners = sorted({v.owner for v in violations if v.owner})
    lines.append("hint: unstage them (`git restore --staged <path>`) and undo the edits (`git restore <path>`,"
                 " or delete new files);")
    lines.append("      " + (f"report what {', '.join(owners)} should change in your completion report."
                             if owners else "report what is needed in your completion report."))
    return "\n".join(lines) + "\n"


def record_rejection(event_log: Path | None, rules: TerritoryRules, hook: str, paths: Sequence[str],
                     reason: str) -> None:
    """Append a ``territory_rejected`` event for agent ``rules.agent`` to ``event_log`` (if it exists)."""
    if event_log is None or not event_log.is_file():
        return  # no sprint running from this repository (e.g. `dispatch workspaces up` alone)
    try:
        # Imported only on a refusal: the allowed path of the hook stays free of sqlite and pydantic.
        from agent_dispatch.store.events import EventType
        from agent_dispatch.store.inbox import INBOX_VAR, post_claim
        from agent_dispatch.store.log import EventLog

        inbox = os.environ.get(INBOX_VAR)
        if inbox and not os.access(event_log.parent, os.W_OK):  # sandboxed: the orchestrator ingests it
            post_claim(Path(inbox), EventType.TERRITORY_REJECTED, chain=None,
                       data={"hook": hook, "paths": list(paths), "reason": reason})
            return
        log = EventLog(event_log)
        try:
            log.append(EventType.TERRITORY_REJECTED, agent=rules.agent,
                       data={"hook": hook, "paths": list(paths), "reason": reason})
        finally:
            log.close()
    except Exception as exc:  # the verdict must not depend on the log
        sys.stderr.write(f"dispatch: could not record the refusal in {event_log}: {exc}\n")


def pre_commit(rules: TerritoryRules, worktree: Path, event_log: Path | None = None) -> int:
    """Refuse a commit that changes files outside the agent's territory (exit 1, reason on stderr)."""
    removed = staged_changes(worktree)
    violations = rules.violations(sorted(removed), removed)
    if violations:
        message = refusal(rules, violations)
        sys.stderr.write(message)
        record_rejection(event_log, rules, "pre-commit", [v.path for v in violations], message.splitlines()[0])
        return 1
    return 0


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def edit_verdict(rules: TerritoryRules, target: str, cwd: str) -> str | None:
    """Why an agent may not write ``target`` (absolute or relative to ``cwd``), or None."""
    path = os.path.realpath(os.path.join(cwd, target))
    worktree = os.path.realpath(rules.worktree) if rules.worktree else ""
    if worktree and _inside(path, worktree):
        relative = Path(os.path.relpath(path, worktree)).as_posix()
        verdict = rules.judge(relative)
        return None if verdict is None else f"{relative} is outside your territory ({verdict.describe()})"
    for root in rules.foreign_roots:
        if _inside(path, os.path.realpath(root)):
            return f"{path} is in another checkout of this repository ({root}); work only in {rules.worktree}"
    return None


def claude(rules: TerritoryRules, event_text: str, event_log: Path | None = None) -> int:
    """Claude Code PreToolUse: print a deny decision for an edit outside territory (always exit 0)."""
    event = json.loads(event_text or "{}")
    tool_input = event.get("tool_input") or {}
    target = tool_input.get("file_path") or tool_input.get("notebook_path")
    if not target:
        return 0
    reason = edit_verdict(rules, str(target), str(event.get("cwd") or os.getcwd()))
    if reason:
        record_rejection(event_log, rules, "claude", [str(target)], reason)
        sys.stdout.write(json.dumps({"hookSpecificOutput": {
            "hookEventName": "PreToolUse", "permissionDecision": "deny",
            "permissionDecisionReason": reason + "; tell the owner in your completion report instead",
        }}) + "\n")
    return 0


def main(argv: Sequence[str]) -> int:
    """Entry point: ``<mode> <rules.json> [<events.db>]``."""
    if len(argv) not in (2, 3) or argv[0] not in ("pre-commit", "claude"):
        sys.stderr.write("usage: python -m agent_dispatch.workspace.hook_entry pre-commit|claude RULES_JSON "
                         "[EVENT_LOG]\n")
        return 2
    rules = read_rules(Path(argv[1]))
    event_log = Path(argv[2]) if len(argv) == 3 else None
    if argv[0] == "pre-commit":
        return pre_commit(rules, Path.cwd(), event_log)
    return claude(rules, sys.stdin.read(), event_log)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
