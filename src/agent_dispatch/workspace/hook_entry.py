"""What the hooks installed in agent worktrees run: ``python -I -m agent_dispatch.workspace.hook_entry
<pre-commit|claude> <rules.json>``.

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


def pre_commit(rules: TerritoryRules, worktree: Path) -> int:
    """Refuse a commit that changes files outside the agent's territory (exit 1, reason on stderr)."""
    removed = staged_changes(worktree)
    violations = rules.violations(sorted(removed), removed)
    if violations:
        sys.stderr.write(refusal(rules, violations))
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


def claude(rules: TerritoryRules, event_text: str) -> int:
    """Claude Code PreToolUse: print a deny decision for an edit outside territory (always exit 0)."""
    event = json.loads(event_text or "{}")
    tool_input = event.get("tool_input") or {}
    target = tool_input.get("file_path") or tool_input.get("notebook_path")
    if not target:
        return 0
    reason = edit_verdict(rules, str(target), str(event.get("cwd") or os.getcwd()))
    if reason:
        sys.stdout.write(json.dumps({"hookSpecificOutput": {
            "hookEventName": "PreToolUse", "permissionDecision": "deny",
            "permissionDecisionReason": reason + "; tell the owner in your completion report instead",
        }}) + "\n")
    return 0


def main(argv: Sequence[str]) -> int:
    """Entry point: ``<mode> <rules.json>``."""
    if len(argv) != 2 or argv[0] not in ("pre-commit", "claude"):
        sys.stderr.write("usage: python -m agent_dispatch.workspace.hook_entry pre-commit|claude RULES_JSON\n")
        return 2
    rules = read_rules(Path(argv[1]))
    if argv[0] == "pre-commit":
        return pre_commit(rules, Path.cwd())
    return claude(rules, sys.stdin.read())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
