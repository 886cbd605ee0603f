"""The local executor: each session is a contained process tree on this machine.

Process tree of one session::

    controller
    └── unshare --pid --fork --kill-child --mount-proc     (pidns mode; own session + process group)
        └── python -I -S _nsinit.py pidns STATUS -- ARGV   (PID 1 of the session's namespace)
            └── [bwrap ... --]                             (a sandboxed session, see ``sandbox.py``)
                └── ARGV                                   (the agent, and whatever it starts)

Without namespaces (``pgroup`` mode) the ``unshare`` level is missing and ``_nsinit.py`` is the
group leader and a child subreaper. See ``_nsinit.py`` for what the first process does.

Why PID namespaces: agents leave daemons behind (dev servers, watchers, ``setsid`` helpers) that
escape any process-group kill. When the namespace's PID 1 exits, the kernel kills every process
in it, so nothing survives a session -- whether it ends normally, times out, or is stopped.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent_dispatch import proc
from agent_dispatch.errors import FatalError
from agent_dispatch.executors import procfs
from agent_dispatch.executors._nsinit import MARKER_VAR
from agent_dispatch.executors.base import (
    Containment,
    EndReason,
    Executor,
    SessionHandle,
    SessionRecord,
    SessionResult,
    SessionSpec,
    SessionStartError,
)
from agent_dispatch.executors.sandbox import bwrap_argv, bwrap_problem

UNSHARE_ARGS = ("--pid", "--fork", "--kill-child", "--mount-proc")
_SHIM = Path(__file__).with_name("_nsinit.py")
_KILL_WAIT_S = 5.0  # after SIGKILL: the kernel needs a moment to tear a namespace down
# A session's log keeps at most this much output (its first part and its end): an agent flooding
# stdout cannot fill the disk, and adapters read the whole log into memory to judge the session.
LOG_CAP_BYTES = 64 * 1024 * 1024


@functools.cache
def namespace_prefix() -> tuple[str, ...] | None:
    """The ``unshare`` command line that gives a session its own PID namespace here, or None.

    Tried for real (``unshare ... true``), once per process: as root (or with CAP_SYS_ADMIN)
    plain namespaces work; otherwise unprivileged user namespaces may, when the kernel allows.
    """
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    candidates = [
        (unshare, *UNSHARE_ARGS),
        (unshare, "--user", "--map-current-user", *UNSHARE_ARGS),
        (unshare, "--user", "--map-root-user", *UNSHARE_ARGS),
    ]
    for prefix in candidates:
        try:
            if proc.run(*prefix, "--", "true", check=False, timeout=10).ok:
                return prefix
        except subprocess.TimeoutExpired:
            continue
    return None


def status_path_for(log_path: Path) -> Path:
    """Where a session's exit status is written: next to its log."""
    return log_path.with_name(log_path.name + ".exit.json")


def read_status_file(path: str | Path) -> dict[str, Any] | None:
    """The exit status the session's first process wrote, or None if it never wrote one."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(eq=False)
class LocalHandle(SessionHandle):
    """A local session; ``popen`` is None when it was adopted from another controller."""

    popen: subprocess.Popen[bytes] | None = None


class LocalExecutor(Executor):
    """Runs sessions as local subprocesses, contained in a PID namespace when possible.

    ``containment``: ``auto`` (namespace if ``unshare`` works here, else process group),
    ``pidns`` (fail if unavailable) or ``pgroup``. ``timeout_grace`` is the pause between
    signals when a session runs out of time. ``log_cap``: the most bytes a session's log keeps
    (None: no cap; the output then goes straight to the file).
    """

    def __init__(self, containment: Literal["auto", "pidns", "pgroup"] = "auto", *,
                 timeout_grace: float = 3.0, log_cap: int | None = LOG_CAP_BYTES) -> None:
        prefix = None if containment == "pgroup" else namespace_prefix()
        if containment == "pidns" and prefix is None:
            raise FatalError("cannot give sessions their own PID namespace: `unshare --pid --fork "
                             "--mount-proc true` fails here\nhint: run as root, enable user "
                             "namespaces (sysctl kernel.unprivileged_userns_clone=1), or use "
                             "containment 'pgroup'")
        self.containment: Containment = "pidns" if prefix is not None else "pgroup"
        self._prefix = prefix
        self.timeout_grace = timeout_grace
        self.log_cap = log_cap

    # -- start / adopt ------------------------------------------------------------------------

    def start(self, spec: SessionSpec) -> LocalHandle:
        """Start ``spec.argv`` in ``spec.cwd`` with exactly ``spec.env`` plus the session marker
        (inside ``spec.sandbox`` when it has one)."""
        status_path = status_path_for(spec.log_path)
        marker = f"{spec.session_id}:{secrets.token_hex(8)}"
        agent_argv = list(spec.argv)
        if spec.sandbox is not None:
            problem = bwrap_problem()
            if problem is not None:
                raise SessionStartError(f"session {spec.session_id!r} must run sandboxed, but {problem}\n"
                                        "hint: install bubblewrap, or set `sprint.sandbox: none` in the plan")
            # Inside _nsinit, not around it: the first process must stay PID 1 of the namespace
            # and write the exit status where the sandboxed session cannot.
            agent_argv = bwrap_argv(spec.sandbox, agent_argv, bwrap=shutil.which("bwrap") or "bwrap")
        cap = [f"--log-cap={self.log_cap}"] if self.log_cap is not None else []
        argv = [sys.executable, "-I", "-S", str(_SHIM), self.containment, str(status_path), *cap, "--",
                *agent_argv]
        if self._prefix is not None:
            argv = [*self._prefix, "--", *argv]
        started_at = time.time()
        try:
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            status_path.unlink(missing_ok=True)
            # Output goes straight to a file, never to a pipe we read: a pipe stays open while any
            # descendant (a daemon the agent left) holds it, and CPython 3.11 asyncio then hangs in
            # Process.wait()/EOF even after the agent exited. A file also survives our restarts.
            with open(spec.log_path, "ab", buffering=0) as out, open(os.devnull, "rb") as devnull:
                popen = subprocess.Popen(
                    argv, cwd=spec.cwd, env={**spec.env, MARKER_VAR: marker}, stdin=devnull,
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                )
        except OSError as e:
            raise SessionStartError(
                f"session {spec.session_id!r} could not start: {e}\nhint: check that the working "
                f"directory {str(spec.cwd)!r} exists and {str(spec.log_path.parent)!r} is writable"
            ) from e
        stat = procfs.read_stat(popen.pid)  # our unreaped child: its /proc entry exists
        record = SessionRecord(
            session_id=spec.session_id, pid=popen.pid, pgid=popen.pid,
            start_time=stat.start_time if stat else 0, started_at=started_at,
            log_path=str(spec.log_path), status_path=str(status_path), timeout_s=spec.timeout_s,
            containment=self.containment, marker=marker,
        )
        return LocalHandle(record, popen=popen)

    def adopt(self, record: SessionRecord | Mapping[str, Any]) -> LocalHandle:
        """Re-attach to a session from its persisted record (see `Executor.adopt`)."""
        if not isinstance(record, SessionRecord):
            record = SessionRecord.from_data(record)
        handle = LocalHandle(record)
        if not procfs.is_running(record.pid, record.start_time):
            self._finish(handle)
        return handle

    # -- observe ------------------------------------------------------------------------------

    def is_alive(self, handle: SessionHandle) -> bool:
        """True while the session's top process runs (checked against pid reuse)."""
        assert isinstance(handle, LocalHandle)
        if handle.result is not None:
            return False
        if handle.popen is not None:
            return handle.popen.poll() is None
        return procfs.is_running(handle.record.pid, handle.record.start_time)

    def session_alive(self, record: SessionRecord | Mapping[str, Any]) -> bool:
        """True while the session's top process runs or any process still carries its marker."""
        if not isinstance(record, SessionRecord):
            record = SessionRecord.from_data(record)
        return procfs.is_running(record.pid, record.start_time) or bool(procfs.marked_pids(record.marker))

    def poll(self, handle: SessionHandle) -> SessionResult | None:
        """The result once the session has ended, else None (timeouts are enforced by wait)."""
        assert isinstance(handle, LocalHandle)
        if handle.result is not None:
            return handle.result
        return None if self.is_alive(handle) else self._finish(handle)

    # -- wait ---------------------------------------------------------------------------------

    def wait(self, handle: SessionHandle) -> SessionResult:
        """Block until the session ends; past its deadline stop it with reason ``timeout``."""
        assert isinstance(handle, LocalHandle)
        while handle.result is None:
            remaining = self._remaining(handle)
            if remaining is not None and remaining <= 0:
                return self._stop(handle, self.timeout_grace, "timeout")
            if self._wait_exit(handle, remaining):
                return self._finish(handle)
        return handle.result

    async def wait_async(self, handle: SessionHandle) -> SessionResult:
        """`wait` without a thread: the event loop watches a pidfd (any number of sessions)."""
        assert isinstance(handle, LocalHandle)
        while handle.result is None:
            remaining = self._remaining(handle)
            if remaining is not None and remaining <= 0:
                return await self._stop_async(handle, self.timeout_grace, "timeout")
            if await self._wait_exit_async(handle, remaining):
                return self._finish(handle)
        return handle.result

    def _remaining(self, handle: SessionHandle) -> float | None:
        timeout = handle.record.timeout_s
        return None if timeout is None else handle.record.started_at + timeout - time.time()

    def _wait_exit(self, handle: LocalHandle, timeout: float | None) -> bool:
        if handle.popen is None:
            return procfs.wait_exit(handle.record.pid, handle.record.start_time, timeout)
        try:
            handle.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    async def _wait_exit_async(self, handle: LocalHandle, timeout: float | None) -> bool:
        if not self.is_alive(handle):  # also guarantees an unreaped child: its pid is still ours
            return True
        fd = procfs.open_pidfd(handle.record.pid, handle.record.start_time)
        if fd is None:  # no pidfd support (Linux < 5.3): poll
            deadline = None if timeout is None else time.monotonic() + timeout
            while self.is_alive(handle):
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.05)
            return True
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        loop.add_reader(fd, lambda: None if exited.done() else exited.set_result(None))
        try:
            await asyncio.wait_for(exited, timeout)
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
            os.close(fd)
        if handle.popen is not None:
            handle.popen.wait()  # reap: it has exited, so this returns at once
        return True

    # -- stop ---------------------------------------------------------------------------------

    def stop(self, handle: SessionHandle, grace: float = 3.0) -> SessionResult:
        """Stop the session: SIGINT, then SIGTERM, then SIGKILL, ``grace`` seconds apart."""
        assert isinstance(handle, LocalHandle)
        return self._stop(handle, grace, "killed")

    async def stop_async(self, handle: SessionHandle, grace: float = 3.0) -> SessionResult:
        """`stop` for asyncio code, waiting on a pidfd instead of a thread."""
        assert isinstance(handle, LocalHandle)
        return await self._stop_async(handle, grace, "killed")

    def _stop(self, handle: LocalHandle, grace: float, reason: EndReason) -> SessionResult:
        if handle.result is not None:
            return handle.result
        if self.is_alive(handle):
            handle.stop_reason = handle.stop_reason or reason
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                self._signal(handle, sig)
                if self._wait_exit(handle, _KILL_WAIT_S if sig == signal.SIGKILL else grace):
                    break
        return self._finish(handle)

    async def _stop_async(self, handle: LocalHandle, grace: float, reason: EndReason) -> SessionResult:
        if handle.result is not None:
            return handle.result
        if self.is_alive(handle):
            handle.stop_reason = handle.stop_reason or reason
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                self._signal(handle, sig)
                if await self._wait_exit_async(handle, _KILL_WAIT_S if sig == signal.SIGKILL else grace):
                    break
        return self._finish(handle)

    def _signal(self, handle: LocalHandle, sig: int) -> None:
        """Deliver ``sig`` to the whole session -- only while its top process is still ours."""
        record = handle.record
        if not self.is_alive(handle):
            return
        if record.containment == "pidns":
            if sig != signal.SIGKILL:
                # The namespace's PID 1 (our _nsinit) re-sends it to every process inside;
                # `unshare` itself blocks SIGINT/SIGTERM, so signalling the group would not do.
                inits = procfs.children(record.pid)
                if inits:
                    procfs.signal_pid(inits[0], sig)
                    return
            # SIGKILL to the group takes `unshare`; --kill-child then kills PID 1 and with it
            # the whole namespace.
            procfs.signal_group(record.pgid, sig)
            return
        procfs.signal_group(record.pgid, sig)
        for pid in procfs.marked_pids(record.marker):  # descendants that left the group (setsid)
            stat = procfs.read_stat(pid)
            if stat is not None and stat.pgid != record.pgid:
                procfs.signal_pid(pid, sig)

    # -- result -------------------------------------------------------------------------------

    def read_output(self, result: SessionResult) -> bytes:
        """The session's log file (empty when the session never wrote one)."""
        try:
            return Path(result.log_path).read_bytes()
        except FileNotFoundError:
            return b""

    def _finish(self, handle: LocalHandle) -> SessionResult:
        """Build (once) the result of a session whose top process has ended."""
        if handle.result is not None:
            return handle.result
        record = handle.record
        # Anything still carrying the marker escaped containment (pgroup mode: a daemon whose
        # subreaper was killed). In pidns mode nothing can be left; the scan is cheap insurance.
        procfs.kill_marked(record.marker)
        status = read_status_file(record.status_path)
        exit_code: int | None = None
        if status is not None and isinstance(status.get("exit_code"), int):
            exit_code = status["exit_code"]
        elif handle.popen is not None:
            exit_code = handle.popen.poll()
        reason: EndReason = handle.stop_reason or ("exited" if exit_code is not None else "lost")
        ended_at = status.get("ended_at") if status else None
        handle.result = SessionResult(
            session_id=record.session_id, reason=reason, exit_code=exit_code,
            started_at=record.started_at,
            ended_at=ended_at if isinstance(ended_at, float) else time.time(),
            log_path=record.log_path,
        )
        return handle.result
