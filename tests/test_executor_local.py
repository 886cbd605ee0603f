"""The local executor, with real processes: output, environment, timeouts, containment, adoption."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from agent_dispatch.executors import LocalExecutor, SessionRecord, SessionSpec, SessionStartError
from agent_dispatch.executors import namespace_prefix, procfs
from agent_dispatch.executors._nsinit import MARKER_VAR

PY = sys.executable
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}

MODES = [
    pytest.param("pidns", marks=pytest.mark.skipif(namespace_prefix() is None,
                                                   reason="no PID namespaces here")),
    "pgroup",
]

# An agent that leaves a daemon behind: double fork + setsid, so it leaves the process group and
# is re-parented away from the agent. The daemon carries "<marker>-daemon" in its argv.
DAEMONIZING_AGENT = textwrap.dedent("""
    import os, sys, time
    marker, then = sys.argv[1], sys.argv[2]
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)",
                                      marker + "-daemon"])
        os._exit(0)
    os.waitpid(child, 0)
    print("daemon started", flush=True)
    if then == "stay":
        time.sleep(300)
""")


@pytest.fixture(params=MODES)
def executor(request: pytest.FixtureRequest) -> LocalExecutor:
    return LocalExecutor(request.param, timeout_grace=0.5)


def spec(tmp_path: Path, argv: list[str], *, name: str = "s", timeout: float | None = 20,
         env: dict[str, str] | None = None, cwd: Path | None = None) -> SessionSpec:
    return SessionSpec(session_id=name, argv=tuple(argv), cwd=cwd or tmp_path, env=env or ENV,
                       log_path=tmp_path / "logs" / f"{name}.log", timeout_s=timeout)


def marker_pids(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker`` (zombies have an empty one)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


def daemon_started(marker: str, log: str | Path) -> bool:
    return "daemon started" in Path(log).read_text() and len(marker_pids(marker + "-daemon")) == 1


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def marker():
    value = f"agent-dispatch-test-{uuid.uuid4().hex}"
    yield value
    for pid in marker_pids(value):  # never leave anything behind, even when a test fails
        os.kill(pid, signal.SIGKILL)


def test_session_writes_log_and_exits_zero(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.start(spec(tmp_path, ["sh", "-c", "echo hello; echo oops >&2"]))
    result = executor.wait(handle)
    assert (result.reason, result.exit_code) == ("exited", 0)
    assert Path(result.log_path).read_text() == "hello\noops\n"
    assert result.ended_at >= result.started_at
    assert not executor.is_alive(handle)
    assert executor.poll(handle) is result


def test_exit_code_and_missing_executable(executor: LocalExecutor, tmp_path: Path) -> None:
    assert executor.wait(executor.start(spec(tmp_path, ["sh", "-c", "exit 7"]))).exit_code == 7
    result = executor.wait(executor.start(spec(tmp_path, ["no-such-agent-cli"], name="missing")))
    assert (result.reason, result.exit_code) == ("exited", 127)
    assert "cannot execute 'no-such-agent-cli'" in Path(result.log_path).read_text()


def test_env_and_cwd_are_exactly_as_given(executor: LocalExecutor, tmp_path: Path) -> None:
    workdir = tmp_path / "worktree"
    workdir.mkdir()
    env = {"PATH": ENV["PATH"], "DISPATCH_AGENT": "backend", "WEIRD": "a b\tc=d"}
    # /proc/self/environ, not os.environ: Python edits the latter at start-up (LC_CTYPE, PEP 538).
    code = ("import json, os; raw = open('/proc/self/environ', 'rb').read().decode()\n"
            "env = dict(item.split('=', 1) for item in raw.split('\\0') if item)\n"
            "print(json.dumps({'cwd': os.getcwd(), 'env': env}))")
    result = executor.wait(executor.start(spec(tmp_path, [PY, "-c", code], env=env, cwd=workdir)))
    seen = json.loads(Path(result.log_path).read_text())
    assert seen["cwd"] == str(workdir)
    marker = seen["env"].pop(MARKER_VAR)  # the one variable the executor adds, to find strays
    assert marker.startswith("s:")
    assert seen["env"] == env


def test_stdin_is_devnull(executor: LocalExecutor, tmp_path: Path) -> None:
    result = executor.wait(executor.start(spec(tmp_path, ["sh", "-c", "cat; echo done"])))
    assert Path(result.log_path).read_text() == "done\n"


def test_timeout_stops_the_session(executor: LocalExecutor, tmp_path: Path) -> None:
    start = time.monotonic()
    result = executor.wait(executor.start(spec(tmp_path, ["sleep", "30"], timeout=0.3)))
    assert result.reason == "timeout"
    assert time.monotonic() - start < 5


def test_stop_escalates_to_kill(executor: LocalExecutor, tmp_path: Path, marker: str) -> None:
    code = ("import signal, sys, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "print('stubborn', flush=True); time.sleep(300)")
    handle = executor.start(spec(tmp_path, [PY, "-c", code, marker]))
    assert wait_for(lambda: "stubborn" in Path(handle.record.log_path).read_text())
    start = time.monotonic()
    result = executor.stop(handle, grace=0.2)
    assert result.reason == "killed"
    assert time.monotonic() - start < 4
    assert marker_pids(marker) == []


@pytest.mark.parametrize("then", ["stay", "exit"])
def test_daemons_do_not_outlive_the_session(executor: LocalExecutor, tmp_path: Path, marker: str,
                                            then: str) -> None:
    handle = executor.start(spec(tmp_path, [PY, "-c", DAEMONIZING_AGENT, marker, then]))
    if then == "stay":
        assert wait_for(lambda: daemon_started(marker, handle.record.log_path))
        result = executor.stop(handle, grace=1.0)
        assert result.reason == "killed"
    else:
        result = executor.wait(handle)
        assert (result.reason, result.exit_code) == ("exited", 0)
    assert "daemon started" in Path(result.log_path).read_text()
    assert wait_for(lambda: marker_pids(marker) == [], timeout=1.0), marker_pids(marker)


def test_shell_daemon_with_nohup_setsid_is_cleaned_up(executor: LocalExecutor, tmp_path: Path,
                                                      marker: str) -> None:
    script = f"nohup setsid {PY} -c 'import time; time.sleep(300)' {marker} >/dev/null 2>&1 & sleep 0.2"
    result = executor.wait(executor.start(spec(tmp_path, ["sh", "-c", script])))
    assert result.exit_code == 0
    assert wait_for(lambda: marker_pids(marker) == [], timeout=1.0)


def test_many_sessions_concurrently_with_asyncio(executor: LocalExecutor, tmp_path: Path) -> None:
    async def run_all():
        handles = [executor.start(spec(tmp_path, ["sh", "-c", f"sleep 0.5; echo {i}"], name=f"s{i}"))
                   for i in range(10)]
        slow = executor.start(spec(tmp_path, ["sleep", "30"], name="slow", timeout=0.5))
        return await asyncio.gather(*(executor.wait_async(h) for h in [*handles, slow]))

    start = time.monotonic()
    results = asyncio.run(run_all())
    assert time.monotonic() - start < 5  # concurrent, not 10 × 0.5 s plus the slow one's timeout
    for i, result in enumerate(results[:10]):
        assert (result.reason, result.exit_code) == ("exited", 0)
        assert Path(result.log_path).read_text() == f"{i}\n"
    assert results[10].reason == "timeout"


def test_stop_async(executor: LocalExecutor, tmp_path: Path, marker: str) -> None:
    handle = executor.start(spec(tmp_path, [PY, "-c", DAEMONIZING_AGENT, marker, "stay"]))
    assert wait_for(lambda: daemon_started(marker, handle.record.log_path))
    result = asyncio.run(executor.stop_async(handle, grace=1.0))
    assert result.reason == "killed"
    assert wait_for(lambda: marker_pids(marker) == [], timeout=1.0)


CONTROLLER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from agent_dispatch.executors import LocalExecutor, SessionSpec
    mode, workdir, *argv = sys.argv[1:]
    executor = LocalExecutor(mode)
    handle = executor.start(SessionSpec("adopt-me", tuple(argv), Path(workdir), {"PATH": "/usr/bin:/bin"},
                                        Path(workdir) / "adopt.log", timeout_s=60))
    print(json.dumps(handle.record.as_data()))
""")


def start_in_other_controller(mode: str, tmp_path: Path, *argv: str) -> dict:
    """Start a session from a controller process that then exits (a controller restart)."""
    out = subprocess.run([PY, "-c", CONTROLLER, mode, str(tmp_path), *argv], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return json.loads(out)


def test_adopt_running_session_after_controller_restart(executor: LocalExecutor, tmp_path: Path,
                                                        marker: str) -> None:
    data = start_in_other_controller(executor.containment, tmp_path, PY, "-c", DAEMONIZING_AGENT,
                                     marker, "stay")
    assert wait_for(lambda: daemon_started(marker, data["log_path"]))
    handle = LocalExecutor(executor.containment).adopt(json.loads(json.dumps(data)))
    assert handle.popen is None and executor.is_alive(handle)
    assert executor.poll(handle) is None
    result = executor.stop(handle, grace=1.0)
    assert (result.session_id, result.reason) == ("adopt-me", "killed")
    assert wait_for(lambda: marker_pids(marker) == [], timeout=1.0)


def test_adopt_finished_session_reads_its_exit_code(executor: LocalExecutor, tmp_path: Path) -> None:
    data = start_in_other_controller(executor.containment, tmp_path, "sh", "-c", "echo bye; exit 7")
    record = SessionRecord.from_data(data)
    handle = executor.adopt(record)
    assert executor.wait(handle).reason in {"exited"}  # returns once it has ended
    assert (handle.result.reason, handle.result.exit_code) == ("exited", 7)
    assert not executor.is_alive(handle)


def test_adopt_wait_async_of_running_session(executor: LocalExecutor, tmp_path: Path) -> None:
    data = start_in_other_controller(executor.containment, tmp_path, "sh", "-c", "sleep 0.5; exit 4")
    result = asyncio.run(executor.wait_async(executor.adopt(data)))
    assert (result.reason, result.exit_code) == ("exited", 4)


def test_pid_reuse_guard(executor: LocalExecutor, tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        stat = procfs.read_stat(bystander.pid)
        assert stat is not None
        record = SessionRecord(session_id="old", pid=bystander.pid, pgid=bystander.pid,
                               start_time=stat.start_time - 1, started_at=time.time() - 60,
                               log_path=str(tmp_path / "old.log"),
                               status_path=str(tmp_path / "old.log.exit.json"), timeout_s=None,
                               containment=executor.containment, marker="old:0")
        handle = executor.adopt(record)  # same pid, different process: not ours
        assert not executor.is_alive(handle)
        assert executor.stop(handle, grace=0.1).reason == "lost"
        assert bystander.poll() is None  # untouched
    finally:
        bystander.kill()
        bystander.wait()


def test_bad_working_directory_is_a_clear_error(executor: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(SessionStartError, match="working directory"):
        executor.start(spec(tmp_path, ["true"], cwd=tmp_path / "missing"))


# Writes fast: one 1 MiB block over and over (no formatting per line), then a last line.
FLOOD = textwrap.dedent("""
    import os, sys
    block = b"x" * (1 << 20)
    print("first line", flush=True)
    for _ in range(int(sys.argv[1])):
        os.write(1, block)
    os.write(2, b"\\nlast line\\n")
""")


def test_flooded_output_keeps_the_log_under_its_cap(tmp_path: Path) -> None:
    for mode in ("pgroup", *(["pidns"] if namespace_prefix() is not None else [])):
        cap = 4 * 1024 * 1024
        executor = LocalExecutor(mode, timeout_grace=0.5, log_cap=cap)
        started = time.monotonic()
        result = executor.wait(executor.start(spec(tmp_path, [PY, "-c", FLOOD, "200"], name=f"flood-{mode}",
                                                   timeout=120)))
        assert (result.reason, result.exit_code) == ("exited", 0)  # never blocked on a full pipe
        log = Path(result.log_path).read_bytes()
        assert len(log) <= cap, (mode, len(log))
        # The head and the end survive; the middle is dropped with a note saying how much.
        assert log.startswith(b"first line\n") and log.endswith(b"\nlast line\n")
        assert b"bytes of output dropped here" in log
        assert time.monotonic() - started < 100


def test_small_output_is_copied_whole_through_the_cap(tmp_path: Path) -> None:
    executor = LocalExecutor("pgroup", log_cap=1024)
    result = executor.wait(executor.start(spec(tmp_path, ["sh", "-c", "echo hello; echo oops >&2"])))
    assert Path(result.log_path).read_text() == "hello\noops\n"
