"""A `command` agent driven by a JSON script, for tests and rehearsals.

    python -m agent_dispatch.testing.scripted_agent SCRIPT.json

The script maps the session number (``DISPATCH_ATTEMPT``) to a list of actions; ``"default"``
covers sessions without their own entry. Actions (run in order, in the agent's worktree):

    {"write": "path", "content": "text"}     create or replace a file
    {"commit": "message"}                    git add -A && git commit (nothing staged: no-op)
    {"squash": "message"}                    rewrite the branch as one commit on its fork point
    {"chain": "chain-1", "state": "FIXING"}  dispatch chain chain-1 FIXING ("reason": "..." adds --reason)
    {"report": "COMPLETE"}                   write the completion report (from git's view of the branch);
                                             "tasks": {"A-01": "COMPLETE"} adds Tasks Completed rows,
                                             "parked": ["A-02: why"] a Parked Chains section
    {"sleep": 1.5}                           wait
    {"say": "text"}                          print a line of output (what the session log keeps)
    {"run": ["git", "commit"], "env": {}}    run a program and wait for it (extra environment on top)
    {"kill_self": true}                      die by SIGKILL, as an agent CLI that crashed or was OOM-killed
    {"save_message": "/abs/path"}            copy DISPATCH_MESSAGE_FILE's text there (empty: no message)
    {"exit": 3}                              stop here with that exit status
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agent_dispatch import git


def _report(status: str, tasks: dict[str, str] | None = None, parked: list[str] | None = None) -> None:
    base = os.environ["DISPATCH_BASE_BRANCH"]
    changed = git.changed_files(Path.cwd(), base, "HEAD")
    kinds = {"A": "CREATED", "D": "DELETED"}
    files = "\n".join(f"{kinds.get(s[0], 'MODIFIED')}  {p}" for s, p in changed) or "None."
    rows = "".join(f"| {task} | scripted | P1 | {state} | — |\n" for task, state in (tasks or {}).items())
    table = f"## Tasks Completed\n| Task ID | Title | Priority | Status | Files Changed |\n|---|---|---|---|---|\n{rows}\n"
    parking = "## Parked Chains (Retry Exhaustion)\n" + "".join(f"{line}\n" for line in parked) + "\n" if parked else ""
    path = Path(os.environ["DISPATCH_REPORT_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# Agent — {os.environ['DISPATCH_ROLE']}: Sprint {os.environ['DISPATCH_SPRINT']} Completion Report\n\n"
        f"Branch: {os.environ['DISPATCH_BRANCH']}\nStatus: {status}\n\n## Summary\nScripted agent.\n\n"
        + (table if tasks else "") + parking +
        f"## Files Modified\n{files}\n\n## Verification Results\n- Build: PASS\n- Tests: PASS\n",
        encoding="utf-8",
    )


def run_action(action: dict) -> int | None:
    """Perform one action; an ``exit`` action returns the status to stop with."""
    if "write" in action:
        path = Path(action["write"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(action.get("content", ""), encoding="utf-8")
    elif "commit" in action:
        git.commit_all(Path.cwd(), action["commit"], run_hooks=True)  # like an agent: through the hooks
    elif "squash" in action:
        fork = git.merge_base(Path.cwd(), "HEAD", os.environ["DISPATCH_BASE_BRANCH"])
        if fork is None:
            raise SystemExit("scripted agent: the branch shares no history with the base branch")
        git.reset_soft(Path.cwd(), fork)
        git.commit_all(Path.cwd(), action["squash"], run_hooks=True, allow_empty=True)
    elif "chain" in action:
        reason = ["--reason", action["reason"]] if "reason" in action else []
        subprocess.run([sys.executable, "-m", "agent_dispatch", "chain", action["chain"], action["state"], *reason],
                       check=True, capture_output=True)
    elif "report" in action:
        _report(action["report"], action.get("tasks"), action.get("parked"))
    elif "save_message" in action:
        message = os.environ.get("DISPATCH_MESSAGE_FILE")
        text = Path(message).read_text(encoding="utf-8") if message else ""
        Path(action["save_message"]).write_text(text, encoding="utf-8")
    elif "sleep" in action:
        time.sleep(float(action["sleep"]))
    elif "say" in action:
        print(action["say"], flush=True)
    elif "run" in action:
        subprocess.run(list(action["run"]), env={**os.environ, **action.get("env", {})}, check=False)
    elif "kill_self" in action:
        os.kill(os.getpid(), signal.SIGKILL)
    elif "exit" in action:
        return int(action["exit"])
    return None


def main(argv: list[str]) -> int:
    script = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    attempt = os.environ.get("DISPATCH_ATTEMPT", "1")
    for action in script.get(attempt, script.get("default", [])):
        code = run_action(action)
        if code is not None:
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
