"""How long a rehearsed session of a real agent CLI waits before its work starts.

One real session of the CLI (default Gemini CLI) against the fake model server, as
``dispatch run --rehearse`` starts it: the adapter's own argv, environment and isolated home, no
``model:`` unless ``--model`` is given (the plan of the rehearsal in issue 22 had none). Measured
from the start of the CLI's process to the first request that offers tools (its first work
request); whatever the CLI asks before that (Gemini's model router, a title...) is the wait. Runs in
a loopback-only network namespace (``unshare -n``, needs root or user namespaces), so nothing
leaves the machine. Each trial is a fresh repository and home; the median is reported.

    python bench/rehearsal_start.py [--cli gemini] [--model M] [--trials 1]

Before the fake server answered Gemini CLI 0.61's router in the JSON shape it asks for, its five
attempts took about 100 s; now it is a few seconds. The last line is the RESULT line:
``RESULT rehearsal_start cli=gemini first_work_request_s=S``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ENV, git  # noqa: E402

from agent_dispatch.agents.all_agents import get_adapter  # noqa: E402
from agent_dispatch.agents.base import SessionRequest  # noqa: E402
from agent_dispatch.testing.netns import loopback_only_argv, netns_available  # noqa: E402

CLI_BIN = Path(os.environ.get("DISPATCH_CLI_DIR", Path.home() / ".cache" / "agent-dispatch" / "clis")) / "bin"
SCENARIO = {"rules": [{"match": None, "steps": [
    {"write": "hello.txt", "content": "hello from fake\n"}, {"text": "All done."}]}]}

# Runs inside the namespace: the server, then the CLI; prints the process start time (epoch s)
# and the server's request records as one JSON object.
_DRIVER = """
import json, subprocess, sys, time
from pathlib import Path
from agent_dispatch.testing.fakellm import FakeModelServer
spec = json.loads(Path(sys.argv[1]).read_text())
with FakeModelServer(Path(spec["scenario"]), port=spec["port"]) as server:
    started = time.time()
    with open(spec["log"], "ab") as out:
        code = subprocess.run(spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
                              stdout=out, stderr=subprocess.STDOUT, timeout=spec["timeout"]).returncode
    print(json.dumps({"started": started, "exit_code": code, "requests": server.requests()}))
"""
PORT = 8766


def first_work_request_s(started: float, requests: list[dict]) -> float | None:
    """Seconds from ``started`` (epoch) to the first request that offered tools, or None."""
    from datetime import datetime

    for record in requests:
        if record.get("tools"):
            return datetime.fromisoformat(record["time"]).timestamp() - started
    return None


def trial(cli: str, model: str | None, work: Path, timeout: int) -> tuple[float | None, dict]:
    """One session in a fresh repository under ``work``: the seconds to its first work request."""
    repo = work / "repo"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("bench\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    prompt = work / "prompt.md"
    prompt.write_text("Create hello.txt saying hello, then stop.\n", encoding="utf-8")
    port = PORT  # the namespace has its own loopback: the port is always free
    request = SessionRequest(
        sprint="bench", agent="alpha", role="DATA", branch="main", base_branch="main", worktree=repo,
        prompt_file=prompt, report_path="report.md", attempt=1, message_file=None, resume_session=None,
        state_home=work / "home", model=model, base_url=f"http://127.0.0.1:{port}", api_key="fake-key")
    adapter = get_adapter(cli)
    adapter.prepare(request)
    (work / "scenario.json").write_text(json.dumps(SCENARIO))
    spec = {"argv": adapter.argv(request), "env": {**adapter.env(request), **_identity()}, "cwd": str(repo),
            "timeout": timeout, "port": port, "scenario": str(work / "scenario.json"), "log": str(work / "session.log")}
    (work / "spec.json").write_text(json.dumps(spec))
    out = subprocess.run(loopback_only_argv([sys.executable, "-c", _DRIVER, str(work / "spec.json")]),
                         capture_output=True, text=True, timeout=timeout + 60, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return first_work_request_s(result["started"], result["requests"]), result


def _identity() -> dict[str, str]:
    return {k: v for k, v in ENV.items() if k.startswith("GIT_")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cli", default="gemini")
    parser.add_argument("--model", default=None, help="the plan's model: (default none, as in issue 22)")
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=300, help="seconds per session")
    args = parser.parse_args()
    if not netns_available():
        raise SystemExit("needs a loopback-only network namespace (unshare -n)")
    os.environ["PATH"] = f"{CLI_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    times: list[float] = []
    for n in range(args.trials):
        with tempfile.TemporaryDirectory(prefix="rehearsal-start-") as tmp:
            seconds, result = trial(args.cli, args.model, Path(tmp), args.timeout)
        first = next((i for i, r in enumerate(result["requests"]) if r.get("tools")), len(result["requests"]))
        before = result["requests"][:first]
        kinds = ", ".join(f"{r.get('purpose')}:{r.get('reply_kind')}" for r in before[:8]) or "none"
        shown = "no work request" if seconds is None else f"{seconds:.2f} s"
        print(f"trial {n + 1}: first work request after {shown}; exit {result['exit_code']}; "
              f"{len(result['requests'])} requests, before it: {kinds}")
        if seconds is None:
            raise SystemExit(f"{args.cli} sent no request with tools")
        times.append(seconds)
    print(f"RESULT rehearsal_start cli={args.cli} first_work_request_s={statistics.median(times):.2f}")


if __name__ == "__main__":
    main()
