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
"""

from __future__ import annotations

import json
import os
import signal
import sys
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


def _run(mode: str, status_path: str, argv: list[str]) -> int:
    if mode == "pgroup":
        _set_subreaper()
    handler = _on_signal_pidns if mode == "pidns" else _on_signal_noted
    # Block stop signals across fork so neither side can die in the window before its handlers
    # (parent) or the exec (child) are in place.
    env = _original_environ()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    main_pid = os.fork()
    if main_pid == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        try:
            os.execvpe(argv[0], argv, env)
        except OSError as e:
            sys.stderr.write(f"agent-dispatch: cannot execute {argv[0]!r}: {e.strerror}\n")
            sys.stderr.flush()
            os._exit(127 if isinstance(e, FileNotFoundError) else 126)
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
    return exit_code if exit_code >= 0 else 128 - exit_code


def main() -> int:
    """Entry point: ``_nsinit.py MODE STATUS_PATH -- ARGV...``."""
    args = sys.argv[1:]
    if len(args) < 4 or args[2] != "--" or args[0] not in ("pidns", "pgroup"):
        sys.stderr.write("usage: _nsinit.py pidns|pgroup STATUS_PATH -- ARGV...\n")
        return 2
    return _run(args[0], args[1], args[3:])


if __name__ == "__main__":
    sys.exit(main())
