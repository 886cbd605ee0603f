"""A hostile `command` agent for tests/test_hostile.py: in its first session it does the acts named
on its command line, then (from its second session on) the honest work of a scripted agent.

    python hostile_agent.py HONEST_SCRIPT.json ACT...

Acts (each tries something an agent must not get away with; none stops the script):
    wait=GATE        first wait until GATE passed (e.g. gate-3:beta: the other agent is done)
    commit           commit a file in its territory first (so its HEAD is ahead of the base)
    move-refs        move the base branch and the other agent's branch, by ref, branch and push
    write-main       write a file into the user's main checkout
    write-other      write a file into every other worktree of the repository
    delete-log       delete the sprint's event log (.dispatch/<sprint>/events.db*)
    flood=MB         write MB megabytes to stdout as fast as it can
    daemon=MARKER    leave a background process behind (setsid, double fork) carrying MARKER
    hang             never exit (the session timeout must stop it)
    symlink          commit a symlink in its territory that points out of the worktree
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agent_dispatch.testing import scripted_agent


def sh(*argv: str) -> None:
    """Run ``argv``; a refusal is printed (it goes to the session log), never fatal."""
    result = subprocess.run(list(argv), capture_output=True, text=True)
    print(f"$ {' '.join(argv)} -> exit {result.returncode}\n{result.stdout}{result.stderr}", flush=True)


def main_checkout() -> Path:
    common = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                            capture_output=True, text=True, check=True).stdout.strip()
    return Path(common).parent


def act(name: str, value: str) -> None:
    root = main_checkout()
    sprint, base = os.environ["DISPATCH_SPRINT"], os.environ["DISPATCH_BASE_BRANCH"]
    if name == "wait":
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            listed = subprocess.run([sys.executable, "-m", "agent_dispatch", "events", "--json"],
                                    capture_output=True, text=True)
            if listed.returncode == 0 and any(e["type"] == "gate_passed" and e["data"].get("gate") == value
                                              for e in json.loads(listed.stdout)):
                time.sleep(3)  # the engine notes the finished worktree just after the gate
                return
            time.sleep(0.5)
    elif name == "commit":
        Path("app/alpha/work.py").write_text("WORK = 1\n")
        sh("git", "add", "-A")
        sh("git", "commit", "-q", "-m", "alpha: hostile work")
    elif name == "move-refs":
        sh("git", "branch", "-f", base, "HEAD")
        sh("git", "update-ref", f"refs/heads/{sprint}/beta", "HEAD")
        sh("git", "push", str(root), f"HEAD:{base}")
    elif name == "write-main":
        (root / "hostile-main.txt").write_text("written by alpha\n")
    elif name == "write-other":
        listing = subprocess.run(["git", "worktree", "list", "--porcelain"], capture_output=True, text=True,
                                 check=True).stdout
        own = Path.cwd().resolve()
        for line in listing.splitlines():
            path = Path(line.removeprefix("worktree ")).resolve()
            if line.startswith("worktree ") and path not in (own, root.resolve()):
                (path / "hostile-other.txt").write_text("written by alpha\n")
    elif name == "delete-log":
        for path in (root / ".dispatch" / sprint).glob("events.db*"):
            path.unlink()
    elif name == "flood":
        block = b"x" * (1 << 20)
        for _ in range(int(value)):
            os.write(1, block)
    elif name == "daemon":
        child = os.fork()
        if child == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", value])
            os._exit(0)
        os.waitpid(child, 0)
        print("daemon started", flush=True)
    elif name == "hang":
        while True:
            time.sleep(1)
    elif name == "symlink":
        link = Path("app/alpha/escape")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../../../../../../../../etc/passwd")
        Path("app/alpha/abs").symlink_to("/etc/hostname")
        sh("git", "add", "-A")
        sh("git", "commit", "-q", "-m", "alpha: links")


def main(argv: list[str]) -> int:
    honest, acts = argv[0], argv[1:]
    if os.environ.get("DISPATCH_ATTEMPT", "1") == "1":
        for item in acts:
            name, _, value = item.partition("=")
            try:
                act(name, value)
            except OSError as error:  # the sandbox refused it: say so in the session log, go on
                print(f"{item}: refused: {error}", flush=True)
    return scripted_agent.main([honest])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
