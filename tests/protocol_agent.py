"""A `command` agent that knows only what its activation prompt tells it (tests of issue 12).

    python tests/protocol_agent.py BEHAVIOUR.json

It reads the prompt (``DISPATCH_PROMPT_FILE``), then every file of the prompt's reading list from
its worktree, and stops with status 3 naming the first one missing. It makes the change the
behaviour file gives (its "model"), commits it with a subject that starts with the chain id, as the
prompt teaches, and reports its chain and any P0 by running the command lines printed in the
prompt. The completion report goes where the prompt says.

Behaviour keys: ``write`` / ``content`` (the change), ``report`` (run the prompt's chain commands,
default true), ``p0`` (a P0 description: reported with the prompt's ``dispatch p0`` line and a
``P0:`` commit).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path


def fail(why: str) -> None:
    print(f"protocol agent: {why}", file=sys.stderr)
    raise SystemExit(3)


def run(line: str, **replace: str) -> None:
    """Run one command line from the prompt; ``replace`` swaps the values of its options / text."""
    argv = shlex.split(line)
    for i, word in enumerate(argv):
        if word in replace:
            argv[i] = replace[word]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"`{line}` failed: {done.stderr.strip()}")


def command(lines: list[str], *words: str) -> str:
    """The first printed ``dispatch`` line whose words after the program are ``words``."""
    return next(li for li in lines if shlex.split(li)[1:1 + len(words)] == list(words))


def git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)


def main() -> None:
    behaviour = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    prompt = Path(os.environ["DISPATCH_PROMPT_FILE"]).read_text(encoding="utf-8")
    context = prompt.split("=== PART 2: CONTEXT ===", 1)[1].split("=== PART 3", 1)[0]
    for line in context.splitlines():
        item = re.match(r"^\d+\. (\S+) \((.*)\)$", line)
        if item and "once it exists" not in item.group(2):
            path = Path(item.group(1))
            if not path.is_file():
                fail(f"the prompt says to read {path}, which is not in my worktree {Path.cwd()}")
            path.read_text(encoding="utf-8")
    lines = [m.group(1) for m in re.finditer(r"^\s+(\S*dispatch (?:chain|p0) .*)$", prompt, re.M)]
    chains = list(dict.fromkeys(shlex.split(line)[2] for line in lines if shlex.split(line)[1] == "chain"))
    chain = chains[0]
    report = behaviour.get("report", True)
    if report:
        run(command(lines, "chain", chain, "TRACING"))
    target = Path(behaviour["write"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(behaviour["content"], encoding="utf-8")
    git("add", "-A")
    git("commit", "-qm", f"{chain}: {behaviour.get('subject', 'the change')}")
    if behaviour.get("p0"):
        p0 = command(lines, "p0")
        example = shlex.split(p0)[2]
        run(p0, **{example: behaviour["p0"], "path/to/file": behaviour["write"]})
        git("commit", "-q", "--allow-empty", "-m", f"P0: {behaviour['p0']}")
    if report:
        run(command(lines, "chain", chain, "COMPLETE"))
    report_path = re.search(r"Write your completion report to (\S+)", prompt)
    if report_path is None:
        fail("the prompt names no completion report path")
    path = Path(report_path.group(1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# Agent — {os.environ['DISPATCH_ROLE']}: Completion Report\n\nStatus: COMPLETE\n\n"
        f"## Summary\nDid {chain} as the prompt said.\n\n## Files Modified\nMODIFIED  {target}\n\n"
        "## Verification Results\n- Build: PASS\n- Tests: PASS\n", encoding="utf-8")
    git("add", "-A")
    git("commit", "-qm", f"docs: {chain} completion report")


if __name__ == "__main__":
    main()
