"""Is an orchestrator running this sprint? The liveness record ``.dispatch/<sprint>/orchestrator.json``.

``dispatch run`` / ``resume`` write it when they start (pid, the process's start time, the resume
command), refresh its heartbeat every few seconds, and say how they ended (finished, paused,
blocked, interrupted, failed). A process killed with SIGKILL says nothing: its record still reads
``running`` but its pid is gone (or is another process, told apart by the start time), which
`assess` reports as ``killed``. A file, not events: heartbeats would flood the log, and the record
must be readable while nothing runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch.files import write_atomic

FILENAME = "orchestrator.json"
HEARTBEAT_SECONDS = 5.0
RUNNING = "running"
KILLED = "killed"  # the record says running, but its process is gone: SIGKILL, OOM, power loss
# How a run ended, as the record says; the words `dispatch status` uses for each.
ENDINGS = {"finished": "finished", "paused": "waiting for an operator decision", "blocked": "stopped at a gate",
           "interrupted": "interrupted", "failed": "failed", KILLED: "killed or crashed", "ended": "ended"}


def record_path(state_dir: Path) -> Path:
    """Where the liveness record of the sprint whose state is in ``state_dir`` lives."""
    return state_dir / FILENAME


def process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (None when it does not exist):
    with the pid, it names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name may hold spaces


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return start is None or process_start(pid) == start


def read(state_dir: Path) -> dict[str, Any] | None:
    """The raw record, or None when no orchestrator ever ran for this sprint (or it is unreadable)."""
    try:
        data = json.loads(record_path(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def assess(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `dispatch status` says about the orchestrator: ``running`` (bool), ``state``, ``since``
    (when it stopped, or its last heartbeat when it died without a word), ``pid``, ``heartbeat``,
    ``detail`` and the ``resume`` command. None when no orchestrator ever ran."""
    if record is None:
        return None
    state = str(record.get("state") or RUNNING)
    pid = int(record.get("pid") or 0)
    running = state == RUNNING and pid > 0 and _alive(pid, record.get("proc_start"))
    since = None
    if state == RUNNING and not running:
        state, since = KILLED, record.get("heartbeat")
    elif state != RUNNING:
        since = record.get("ended_at")
    return {"running": running, "state": state, "meaning": ENDINGS.get(state, state) if not running else RUNNING,
            "since": since, "pid": pid, "started_at": record.get("started_at"),
            "heartbeat": record.get("heartbeat"), "detail": record.get("detail"), "resume": record.get("resume")}


@dataclass
class Orchestrating:
    """The liveness record of this process while it runs a sprint (see `orchestrating`)."""

    path: Path
    data: dict[str, Any]
    lock: threading.Lock

    def beat(self) -> None:
        """Refresh the heartbeat."""
        with self.lock:
            if self.data["state"] == RUNNING:
                self.data["heartbeat"] = time.time()
                self._write()

    def end(self, state: str, detail: str | None = None) -> None:
        """Record how the run ended (``finished``, ``paused``, ``blocked``, ``interrupted``, ``failed``)."""
        with self.lock:
            now = time.time()
            self.data.update(state=state, detail=detail, ended_at=now, heartbeat=now)
            self._write()

    def _write(self) -> None:
        write_atomic(self.path, json.dumps(self.data, indent=1) + "\n")


@contextlib.contextmanager
def orchestrating(state_dir: Path, *, resume: str, interval: float = HEARTBEAT_SECONDS) -> Iterator[Orchestrating]:
    """Mark this process as the sprint's orchestrator while the body runs: heartbeat every
    ``interval`` seconds; Ctrl-C is recorded as ``interrupted``, any other exception as ``failed``
    with its message, a body that did not call `Orchestrating.end` as ``ended``."""
    now = time.time()
    live = Orchestrating(record_path(state_dir), {
        "pid": os.getpid(), "proc_start": process_start(os.getpid()), "started_at": now, "heartbeat": now,
        "state": RUNNING, "detail": None, "ended_at": None, "resume": resume}, threading.Lock())
    live.beat()
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(interval):
            live.beat()

    thread = threading.Thread(target=heartbeat, name="dispatch-heartbeat", daemon=True)
    thread.start()
    try:
        yield live
    except KeyboardInterrupt:
        live.end("interrupted", "Ctrl-C")
        raise
    except BaseException as exc:
        live.end("failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    else:
        if live.data["state"] == RUNNING:
            live.end("ended")
    finally:
        stop.set()
        thread.join()
