"""Small Linux ``/proc`` and pidfd helpers for the local executor."""

from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass

from agent_dispatch.executors._nsinit import marked_pids

__all__ = ["ProcStat", "children", "is_running", "kill_marked", "marked_pids", "open_pidfd",
           "read_stat", "signal_group", "signal_pid", "wait_exit"]


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the executor needs."""

    pid: int
    state: str  # R, S, D, Z (zombie), X (dead), ...
    ppid: int
    pgid: int
    start_time: int  # clock ticks after boot; with the pid, identifies one process for good


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat fields, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    rest = text[text.rindex(")") + 2:].split()
    return ProcStat(pid=pid, state=rest[0], ppid=int(rest[1]), pgid=int(rest[2]), start_time=int(rest[19]))


def is_running(pid: int, start_time: int) -> bool:
    """True when ``pid`` exists, is not a zombie, and started at ``start_time`` (no pid reuse)."""
    stat = read_stat(pid)
    return stat is not None and stat.start_time == start_time and stat.state not in ("Z", "X")


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from the kernel's children list, else a scan of /proc)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        pass
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None and stat.ppid == pid:
                found.append(stat.pid)
    return found


def signal_pid(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``; a process that is already gone is not an error."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to every process in group ``pgid``; an empty group is not an error."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_marked(marker: str, sig: int = signal.SIGKILL, *, rounds: int = 3) -> int:
    """Signal every process carrying ``marker`` (repeated: a dying parent may still fork)."""
    total = 0
    for _ in range(rounds):
        pids = marked_pids(marker)
        for pid in pids:
            signal_pid(pid, sig)
        total += len(pids)
        if not pids or sig != signal.SIGKILL:
            break
        time.sleep(0.02)
    return total


def open_pidfd(pid: int, start_time: int | None = None) -> int | None:
    """A pidfd for ``pid`` (readable once it exits), or None if it is gone or pidfds are missing.

    With ``start_time`` the identity is checked *after* opening, so the fd cannot refer to a
    process that merely reused the pid.
    """
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    if start_time is not None:
        stat = read_stat(pid)
        if stat is None or stat.start_time != start_time:
            os.close(fd)
            return None
    return fd


def wait_exit(pid: int, start_time: int, timeout: float | None) -> bool:
    """Wait up to ``timeout`` s (None: forever) for a process we may not be the parent of.

    Returns True once it has exited (or is not the same process any more). Uses a pidfd when
    the kernel has them (Linux 5.3+), otherwise polls ``/proc``.
    """
    fd = open_pidfd(pid, start_time)
    if fd is None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while is_running(pid, start_time):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))
    finally:
        os.close(fd)
