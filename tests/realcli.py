"""The one driver for tests that run a real agent CLI against the fake model server.

Every run happens in a fresh network namespace where only loopback is up (``unshare -n``): a
small driver started inside it serves ``FakeModelServer`` on 127.0.0.1:``PORT``, then runs the
command with stdin from /dev/null and stdout and stderr in a log file. Each namespace has its own
loopback, so the fixed port never collides between runs. ``dispatch run --rehearse`` starts its
own fake server, so ``RealCLI.rehearse`` only wraps it in the namespace.

``require`` is the one installed-CLI check. Binaries are found the way the engine finds them
(``CLIAdapter.executable()``: PATH, or ``DISPATCH_<NAME>_BIN``), with ``.ci/install-clis``'s
``$DISPATCH_CLI_DIR/bin`` (default ``~/.cache/agent-dispatch/clis/bin``) first on PATH. A CLI that
is not installed, or a machine where ``unshare -n`` is not possible, skips the test; with
``DISPATCH_NO_SKIP=1`` (CI sets it; ``DISPATCH_REQUIRE_REALCLI=1`` is the older name) it fails the
test instead (tests/skips.py).

Tests take a ready ``RealCLI`` from the ``realcli`` fixture (tests/conftest.py) and name their CLI
in the marker: ``@pytest.mark.realcli("claude")``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from agent_dispatch.agents.all_agents import get_adapter
from agent_dispatch.errors import FatalError
from agent_dispatch.testing.netns import loopback_only_argv, netns_available
from skips import no_skips

if TYPE_CHECKING:
    from agent_dispatch.agents.base import SessionOutcome, SessionRequest
    from agent_dispatch.agents.cli import CLIAdapter

PORT = 8765  # inside each run's own network namespace, so never taken
BASE_URL = f"http://127.0.0.1:{PORT}"
MODEL = "fake-model"

# Runs inside the namespace: the fake model server, then the command with its output in the log.
# The log is opened for appending: a CLI that reopens /dev/stdout (aider's --analytics-log) then
# adds its records after its terminal text instead of writing over it.
_DRIVER = """
import json, subprocess, sys
from pathlib import Path
from agent_dispatch.testing.fakellm import FakeModelServer
spec = json.loads(Path(sys.argv[1]).read_text())
with FakeModelServer(Path(spec["scenario"]), log=Path(spec["requests"]), port=spec["port"]):
    with open(spec["log"], "ab", buffering=0) as out:
        try:
            code = subprocess.run(spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=subprocess.STDOUT, timeout=spec["timeout"]).returncode
        except subprocess.TimeoutExpired:
            code = None
Path(spec["result"]).write_text(json.dumps({"exit_code": code}))
"""


def cli_bin_dir() -> Path:
    """Where ``.ci/install-clis`` puts the CLIs' launchers."""
    return Path(os.environ.get("DISPATCH_CLI_DIR", Path.home() / ".cache" / "agent-dispatch" / "clis")) / "bin"


def cli_path() -> str:
    """PATH with the installed CLIs in front."""
    return f"{cli_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"


def unavailable(problem: str) -> NoReturn:
    """Skip the test, or fail it when skips are forbidden (``DISPATCH_NO_SKIP=1``: CI must not skip)."""
    if no_skips():
        pytest.fail(problem)
    pytest.skip(problem)


def require(cli: str | None) -> str | None:
    """The path of ``cli``'s binary on the current PATH (``None`` when no CLI is named), once a
    loopback-only namespace can be made here; otherwise the test is skipped or failed."""
    if not netns_available():
        unavailable("cannot create a loopback-only network namespace here (unshare -n)")
    if cli is None:
        return None
    adapter = get_adapter(cli)  # an unknown name is a mistake in the test: let it raise
    try:
        return adapter.executable()  # type: ignore[attr-defined]
    except FatalError:
        unavailable(f"{cli} CLI not installed (run .ci/install-clis)")


def dispatch_json(repo: Path, *args: str) -> Any:
    """The JSON printed by ``dispatch ARGS`` run in ``repo``."""
    out = subprocess.run([sys.executable, "-m", "agent_dispatch", *args], cwd=repo, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return json.loads(out)


@dataclass(frozen=True)
class CLIRun:
    """One command run against the fake model server."""

    argv: list[str]
    exit_code: int | None  # None: stopped at its timeout
    log: str  # its stdout and stderr
    log_path: Path
    requests: list[dict[str, Any]]  # the fake server's request records


@dataclass(frozen=True)
class SessionRun(CLIRun):
    """One adapter session: the run, and its outcome as the engine reads it."""

    outcome: SessionOutcome


class RealCLI:
    """A ready real-CLI runner: the CLI checked, PATH set, an isolated home, runs numbered in ``tmp``."""

    def __init__(self, tmp: Path, cli: str | None, binary: str | None) -> None:
        self.tmp, self.cli, self._binary = tmp, cli, binary
        self.home = tmp / "home"  # the CLI's isolated home (``SessionRequest.state_home``)
        self.port, self.base_url, self.model = PORT, BASE_URL, MODEL
        self.runs = 0

    @property
    def name(self) -> str:
        """The CLI's name, as the test's ``realcli`` mark gives it."""
        if self.cli is None:
            raise LookupError("this test names no CLI: use @pytest.mark.realcli(\"<cli>\")")
        return self.cli

    @property
    def binary(self) -> str:
        """The path of the CLI's binary, found as the engine finds it."""
        if self._binary is None:
            raise LookupError("this test names no CLI: use @pytest.mark.realcli(\"<cli>\")")
        return self._binary

    @property
    def env(self) -> dict[str, str]:
        """This process's environment (PATH with the installed CLIs first), for child processes."""
        return dict(os.environ)

    def run(self, argv: list[str], *, scenario: dict[str, Any], cwd: Path, env: Mapping[str, str],
            timeout: int) -> CLIRun:
        """Run ``argv`` in ``cwd`` with exactly ``env``, the fake server answering by ``scenario``."""
        self.runs += 1
        run_dir = self.tmp / f"run-{self.runs}"
        run_dir.mkdir()
        (run_dir / "scenario.json").write_text(json.dumps(scenario))
        spec = {"argv": argv, "env": dict(env), "cwd": str(cwd), "timeout": timeout, "port": self.port,
                "scenario": str(run_dir / "scenario.json"), "requests": str(run_dir / "requests.jsonl"),
                "log": str(run_dir / "session.log"), "result": str(run_dir / "result.json")}
        (run_dir / "spec.json").write_text(json.dumps(spec))
        # The outer timeout leaves the driver time to stop the CLI and the server.
        driver = subprocess.run(loopback_only_argv([sys.executable, "-c", _DRIVER, str(run_dir / "spec.json")]),
                                cwd=run_dir, capture_output=True, text=True, timeout=timeout + 60, check=False)
        log_path = run_dir / "session.log"
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        result = run_dir / "result.json"
        assert driver.returncode == 0 and result.exists(), driver.stdout + driver.stderr + log
        requests_log = run_dir / "requests.jsonl"
        lines = requests_log.read_text().splitlines() if requests_log.exists() else []
        return CLIRun(argv=argv, exit_code=json.loads(result.read_text())["exit_code"], log=log,
                      log_path=log_path, requests=[json.loads(line) for line in lines])

    def session(self, adapter: CLIAdapter, request: SessionRequest, scenario: dict[str, Any], *,
                extra_env: Mapping[str, str] | None = None, timeout: int = 150) -> SessionRun:
        """One session with exactly the adapter's argv and environment; its outcome as the engine reads it."""
        adapter.prepare(request)
        run = self.run(adapter.argv(request), scenario=scenario, cwd=request.worktree,
                       env={**adapter.env(request), **(extra_env or {})}, timeout=timeout)
        outcome = adapter.outcome(run.exit_code, run.log_path, timed_out=run.exit_code is None, killed=False)
        return SessionRun(argv=run.argv, exit_code=run.exit_code, log=run.log, log_path=run.log_path,
                          requests=run.requests, outcome=outcome)

    def rehearse(self, repo: Path, plan: Path, scenario: Path, *, timeout: int) -> subprocess.CompletedProcess[str]:
        """``dispatch run PLAN --rehearse SCENARIO`` in ``repo``, loopback-only (it starts its own fake server)."""
        argv = [sys.executable, "-m", "agent_dispatch", "run", str(plan), "--yes", "--session-timeout", "240",
                "--rehearse", str(scenario)]
        return subprocess.run(loopback_only_argv(argv), cwd=repo, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
