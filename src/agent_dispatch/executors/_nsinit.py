"""The first process of every local session: starts the agent, records how it ended, cleans up.

Run as a standalone script (``python -I -S _nsinit.py MODE STATUS_PATH -- ARGV...``): it imports
nothing from the package, so the agent's environment (PYTHONPATH, a different venv) cannot break it.

MODE ``pidns``: we are PID 1 of a fresh PID namespace (started by ``unshare --pid --fork``).
  * A namespace init ignores every signal it has no handler for, even from outside, so we install
    handlers and broadcast each stop signal with ``kill(-1, sig)`` to every process in the
    namespace -- including daemons the agent detached with setsid.
  * Orphans re-parent to us; we reap them so no zombies pile up.
  * When the agent's main process exits we exit too, and the kernel kills everything left in the
    namespace: nothing the agent started can outlive its session.
MODE ``pgroup`` (no namespaces available): we become a child subreaper so double-forked daemons
  re-parent to us instead of to init; when the agent exits we kill every process still carrying
  the session marker in its environment and every child we have. Stop signals reach the agent
  through its process group, sent by the executor, so we only note them here.

In both modes the main process's exit status goes to STATUS_PATH (JSON, written atomically), so a
controller that restarted -- and is therefore no longer our parent -- still learns the exit code.

With ``--log-cap=BYTES`` (before ``--``) the agent's stdout and stderr go through a pipe to us and we
copy them to our own stdout (the session's log file) up to that size: the first part as it comes,
then only the last quarter is kept (in memory) and written after a line saying how much was dropped.
An agent flooding its output cannot fill the disk, and it is never blocked on a full pipe: we keep
reading and discarding. The copy is ours, inside the session, so the controller never reads a pipe.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import threading
import time

MARKER_VAR = "DISPATCH_EXECUTOR_SESSION"
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
_PR_SET_CHILD_SUBREAPER = 36
_received: list[int] = []


def _set_subreaper() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux or no libc: the executor's sweep still runs
        pass


def _on_signal_pidns(signum: int, _frame: object) -> None:
    _received.append(signum)
    try:
        os.kill(-1, signum)  # every process in our namespace except ourselves
    except ProcessLookupError:
        pass


def _on_signal_noted(signum: int, _frame: object) -> None:
    _received.append(signum)


def _original_environ() -> dict[bytes, bytes]:
    """The environment we were started with, untouched by this interpreter.

    Python itself edits ``os.environ`` at start-up (C locale coercion adds LC_CTYPE, PEP 538, and
    ``-I`` stops us from switching that off); the agent must get exactly what the controller gave.
    """
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return dict(os.environb)
    env: dict[bytes, bytes] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env.setdefault(key, value)
    return env


def _write_status(path: str, exit_code: int | None) -> None:
    data = {"exit_code": exit_code, "ended_at": time.time(),
            "signals": [signal.Signals(s).name for s in _received]}
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def marked_pids(marker: str) -> list[int]:
    """Pids whose environment carries ``MARKER_VAR=<marker>`` (never our own)."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


def _kill_leftovers(marker: str | None) -> None:
    """pgroup mode: SIGKILL what the agent left behind, then reap our (adopted) children."""
    for _ in range(3):
        pids = marked_pids(marker) if marker else []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)
        if not pids:
            break


class _CappedCopy:
    """Copies the agent's output pipe to our stdout, keeping at most ``cap`` bytes (head + tail)."""

    _MARKER_ROOM = 200  # the "dropped" line must fit in the cap too

    def __init__(self, source: int, cap: int) -> None:
        self.source = source
        self.tail_budget = cap // 4
        self.head_budget = max(0, cap - self.tail_budget - self._MARKER_ROOM)
        self.written = 0
        self.dropped = 0
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_size = 0
        self.thread = threading.Thread(target=self._copy, daemon=True)
        self.thread.start()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(1, view):]
            except OSError:  # the log is gone or the disk is full: keep draining, never block the agent
                return

    def _copy(self) -> None:
        while True:
            try:
                chunk = os.read(self.source, 1 << 20)
            except OSError:
                return
            if not chunk:
                return
            room = self.head_budget - self.written
            if room > 0:
                self._write(chunk[:room])
                self.written += min(room, len(chunk))
                chunk = chunk[room:]
            if chunk:
                # Past the head: keep only the newest tail_budget bytes, in whole chunks (no copying).
                self.dropped += len(chunk)
                self.tail.append(chunk)
                self.tail_size += len(chunk)
                while self.tail and self.tail_size - len(self.tail[0]) >= self.tail_budget:
                    self.tail_size -= len(self.tail.popleft())

    def finish(self, timeout: float) -> None:
        """Wait for the end of the output, then write the kept tail after a note of what was dropped."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            return  # someone outside the session still holds the pipe: the head is all we keep
        tail = b"".join(self.tail)[-self.tail_budget:] if self.tail_budget else b""
        lost = self.dropped - len(tail)
        if lost > 0:
            self._write(f"\n[agent-dispatch: {lost} bytes of output dropped here: the log keeps its first "
                        f"{self.written} and last {len(tail)} bytes]\n".encode())
        self._write(tail)


def _reap_all(deadline_s: float) -> None:
    """Reap every child we have left (pidns: we are init of the namespace)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def _run(mode: str, status_path: str, argv: list[str], log_cap: int | None = None) -> int:
    if mode == "pgroup":
        _set_subreaper()
    handler = _on_signal_pidns if mode == "pidns" else _on_signal_noted
    # Block stop signals across fork so neither side can die in the window before its handlers
    # (parent) or the exec (child) are in place.
    env = _original_environ()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    pipe = os.pipe() if log_cap is not None else None
    main_pid = os.fork()
    if main_pid == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        if pipe is not None:
            os.dup2(pipe[1], 1)
            os.dup2(pipe[1], 2)
            os.close(pipe[0])
            os.close(pipe[1])
        try:
            os.execvpe(argv[0], argv, env)
        except OSError as e:
            sys.stderr.write(f"agent-dispatch: cannot execute {argv[0]!r}: {e.strerror}\n")
            sys.stderr.flush()
            os._exit(127 if isinstance(e, FileNotFoundError) else 126)
    copy = None
    if pipe is not None and log_cap is not None:
        os.close(pipe[1])
        copy = _CappedCopy(pipe[0], log_cap)
    for signum in FORWARDED:
        signal.signal(signum, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    while True:
        pid, status = os.waitpid(-1, 0)  # PEP 475: retried after a signal handler runs
        if pid == main_pid:
            break
    exit_code = os.waitstatus_to_exitcode(status)
    _write_status(status_path, exit_code)
    if mode == "pgroup":
        _kill_leftovers(os.environ.get(MARKER_VAR))
    elif copy is not None:
        # What the kernel does when we exit, done now so the output pipe closes and the copy ends.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap_all(1.0)
    if copy is not None:
        copy.finish(timeout=2.0)
    return exit_code if exit_code >= 0 else 128 - exit_code


def main() -> int:
    """Entry point: ``_nsinit.py MODE STATUS_PATH [--log-cap=BYTES] -- ARGV...``."""
    args = sys.argv[1:]
    log_cap = None
    if len(args) > 2 and args[2].startswith("--log-cap="):
        log_cap = int(args.pop(2).partition("=")[2])
    if len(args) < 4 or args[2] != "--" or args[0] not in ("pidns", "pgroup"):
        sys.stderr.write("usage: _nsinit.py pidns|pgroup STATUS_PATH [--log-cap=BYTES] -- ARGV...\n")
        return 2
    return _run(args[0], args[1], args[3:], log_cap)


if __name__ == "__main__":
    sys.exit(main())
