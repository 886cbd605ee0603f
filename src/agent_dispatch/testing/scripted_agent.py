"""A `command` agent driven by a JSON script, for tests and rehearsals.

    python -m agent_dispatch.testing.scripted_agent SCRIPT.json

The script maps the session number (``DISPATCH_ATTEMPT``) to a list of actions; ``"default"``
covers sessions without their own entry. Actions (run in order, in the agent's worktree):

    {"write": "path", "content": "text"}     create or replace a file
    {"commit": "message"}                    git add -A && git commit (nothing staged: no-op)
    {"squash": "message"}                    rewrite the branch as one commit on its fork point
    {"chain": "chain-1", "state": "FIXING"}  dispatch chain chain-1 FIXING
    {"report": "COMPLETE"}                   write the completion report (from git's view of the branch)
    {"sleep": 1.5}                           wait
    {"save_message": "/abs/path"}            copy DISPATCH_MESSAGE_FILE's text there (empty: no message)
    {"exit": 3}                              stop here with that exit status
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def _report(status: str) -> None:
    base = os.environ["DISPATCH_BASE_BRANCH"]
    changed = [line.split("\t", 1) for line in _git("diff", "--name-status", f"{base}...HEAD").splitlines()]
    kinds = {"A": "CREATED", "D": "DELETED"}
    files = "\n".join(f"{kinds.get(s[0], 'MODIFIED')}  {p}" for s, p in changed) or "None."
    path = Path(os.environ["DISPATCH_REPORT_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# Agent — {os.environ['DISPATCH_ROLE']}: Sprint {os.environ['DISPATCH_SPRINT']} Completion Report\n\n"
        f"Branch: {os.environ['DISPATCH_BRANCH']}\nStatus: {status}\n\n## Summary\nScripted agent.\n\n"
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
        _git("add", "-A")
        if subprocess.run(["git", "diff", "--cached", "--quiet"]).returncode != 0:
            _git("commit", "-q", "-m", action["commit"])
    elif "squash" in action:
        fork = _git("merge-base", "HEAD", os.environ["DISPATCH_BASE_BRANCH"]).strip()
        _git("reset", "-q", "--soft", fork)
        _git("add", "-A")
        _git("commit", "-q", "--allow-empty", "-m", action["squash"])
    elif "chain" in action:
        subprocess.run([sys.executable, "-m", "agent_dispatch", "chain", action["chain"], action["state"]],
                       check=True, capture_output=True)
    elif "report" in action:
        _report(action["report"])
    elif "save_message" in action:
        message = os.environ.get("DISPATCH_MESSAGE_FILE")
        text = Path(message).read_text(encoding="utf-8") if message else ""
        Path(action["save_message"]).write_text(text, encoding="utf-8")
    elif "sleep" in action:
        time.sleep(float(action["sleep"]))
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
