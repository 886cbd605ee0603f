"""The sprint's durable event log: one SQLite database in WAL mode, append-only.

This module owns the connection, the schema and every SQL string of the store. Several processes
append at once -- the running engine, and ``dispatch chain``/``dispatch p0`` called by agents from
their worktrees -- so every write is a ``BEGIN IMMEDIATE`` transaction (writers queue on SQLite's
lock, waiting up to `BUSY_TIMEOUT_S`) and readers never block writers (WAL).

Tables::

    events     seq (AUTOINCREMENT: never reused), ts, sprint, agent, chain, type, data (JSON)
               triggers refuse UPDATE and DELETE: the log is append-only
    snapshots  a cache of folded projection state (name, version, seq, data); derived from
               events, safe to drop at any time, rebuilt on demand

``seq`` order is commit order: seq is assigned inside the write transaction and write
transactions are serialized, so a follower that has seen seq N never later sees a smaller one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_dispatch.errors import FatalError
from agent_dispatch.redact import redact
from agent_dispatch.store import projections
from agent_dispatch.store.events import Event, NewEvent, encode, parse_type, validate
from agent_dispatch.store.live import SNAPSHOT_EVERY, LiveState, Projection, S

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

# Statements that bring a database from version N-1 to N (PRAGMA user_version). Each step runs
# in one transaction, so a crash mid-way leaves the previous version intact.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE IF NOT EXISTS events ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, sprint TEXT NOT NULL,"
        " agent TEXT, chain TEXT, type TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}')",
        "CREATE INDEX IF NOT EXISTS events_by_type ON events (type, seq)",
        "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events"
        " BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events"
        " BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
        "CREATE TABLE IF NOT EXISTS snapshots ("
        " name TEXT PRIMARY KEY, version INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " ts REAL NOT NULL, data TEXT NOT NULL)",
    ),
}
_INSERT = "INSERT INTO events (ts, sprint, agent, chain, type, data) VALUES (?, ?, ?, ?, ?, ?)"
_SELECT = "SELECT seq, ts, sprint, agent, chain, type, data FROM events WHERE seq > ?"
_LOAD_SNAPSHOT = "SELECT version, seq, data FROM snapshots WHERE name = ?"
_SAVE_SNAPSHOT = (
    "INSERT INTO snapshots (name, version, seq, ts, data) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET version = excluded.version, seq = excluded.seq,"
    " ts = excluded.ts, data = excluded.data"
    " WHERE excluded.seq > snapshots.seq OR excluded.version != snapshots.version"
)


def events_path(root: Path, sprint: str) -> Path:
    """Where a sprint's log lives: ``<main checkout>/.dispatch/<sprint>/events.db``."""
    return root / ".dispatch" / sprint / "events.db"


class EventLog:
    """The append-only event log of one sprint. Safe to use from several threads and processes.

    ``sprint`` defaults to the name of the directory holding the database. ``snapshot_every``
    (0 disables) controls how often folded status is cached in the database, which is what keeps
    `status` fast for a fresh process at any log length.
    """

    def __init__(self, path: str | Path, *, sprint: str | None = None,
                 snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.path = Path(path)
        self.sprint = sprint or self.path.parent.name
        self.snapshot_every = snapshot_every
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. The timeout is SQLite's busy
        # handler: a writer waits that long for another process's write transaction to finish.
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.RLock()
        self._live: dict[str, LiveState[Any]] = {}  # projection name -> its live state
        self._listeners: list[Callable[[int], None]] = []
        self._newer_schema: int | None = None
        self._configure()
        self._migrate()
        self._identity = self._file_identity()

    def _configure(self) -> None:
        self._db.execute("PRAGMA journal_mode = WAL")
        # In WAL mode synchronous=NORMAL fsyncs only at checkpoints: a committed event survives a
        # crash of any process (it is in the WAL file); only a power loss or OS crash can lose the
        # last few commits. FULL would fsync every append and cost ~10x for that case alone.
        self._db.execute("PRAGMA synchronous = NORMAL")

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def restore_if_replaced(self) -> str | None:
        """Put the log back when the file at ``path`` is no longer the one this connection has open
        (an agent deleted or replaced ``.dispatch/``): our open connection still holds every event,
        so it is written back and reopened. A file found in its place is kept beside it
        (``events.db.replaced-<ns>``). Returns ``"deleted"`` or ``"replaced"``, or None when intact."""
        with self._lock:
            found = self._file_identity()
            if found == self._identity:
                return None
            what = "deleted" if found is None else "replaced"
            self.path.parent.mkdir(parents=True, exist_ok=True)  # the whole directory may be gone
            tmp = self.path.with_name(f"{self.path.name}.restoring-{os.getpid()}")
            tmp.unlink(missing_ok=True)
            copy = sqlite3.connect(tmp)
            try:
                self._db.backup(copy)
            finally:
                copy.close()
            if found is not None:
                os.replace(self.path, self.path.with_name(f"{self.path.name}.replaced-{time.time_ns()}"))
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            os.replace(tmp, self.path)
            self._db.close()
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
            self._configure()
            self._identity = self._file_identity()
            return what

    @classmethod
    def for_sprint(cls, root: str | Path, sprint: str) -> EventLog:
        """The log of ``sprint`` in the main checkout ``root``."""
        return cls(events_path(Path(root), sprint), sprint=sprint)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite when the last one closes)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # take the write lock now, not at first write
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        current = self._db.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            self._newer_schema = current  # reading still works; appending is refused
            return
        if current == SCHEMA_VERSION:
            return
        with self._write() as db:
            current = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    db.execute(statement)
                # PRAGMA takes no parameters; the value is our own integer constant.
                db.execute(f"PRAGMA user_version = {int(version)}")

    # -- append -------------------------------------------------------------------------------

    def append(self, type: str, *, agent: str | None = None, chain: str | None = None,
               data: Mapping[str, Any] | None = None, ts: float | None = None) -> int:
        """Validate and append one event; returns its ``seq``. Raises ValueError if invalid."""
        return self.append_many([NewEvent(type, agent, chain, data or {}, ts)])[0]

    def append_many(self, events: Iterable[NewEvent]) -> list[int]:
        """Append several events in one transaction (all or none); returns their seqs in order."""
        rows = [self._row(event) for event in events]
        if self._newer_schema is not None:
            raise FatalError(f"{self.path} was written by a newer agent-dispatch (log schema "
                             f"v{self._newer_schema}; this version knows v{SCHEMA_VERSION})\n"
                             "hint: upgrade agent-dispatch to continue this sprint")
        with self._write() as db:
            seqs = [int(db.execute(_INSERT, row).lastrowid or 0) for row in rows]
        if seqs:
            for listener in list(self._listeners):
                listener(seqs[-1])  # after COMMIT: the events are durable
        self._maybe_snapshot(seqs[-1] if seqs else 0)
        return seqs

    def add_listener(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback(last_seq)`` after each append made through this object commits (for
        waking subscribers at once; appends by other processes are found by polling). Returns a
        function that removes it."""
        with self._lock:
            self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _row(self, event: NewEvent) -> tuple[Any, ...]:
        if not isinstance(event.data, Mapping):
            raise ValueError(f"{event.type} event: data must be a mapping, not {type(event.data).__name__}")
        payload = redact(encode(event.data))  # no API key or token from the environment is ever stored
        known = validate(event.type, agent=event.agent, chain=event.chain, data=payload)
        ts = time.time() if event.ts is None else event.ts
        return (ts, self.sprint, event.agent, event.chain, known.value, payload)

    # -- read ---------------------------------------------------------------------------------

    def read(self, since_seq: int = 0, *, types: Sequence[str] | None = None,
             agent: str | None = None, limit: int | None = None) -> list[Event]:
        """Events with ``seq > since_seq`` in seq order, optionally only some types or one agent."""
        sql = _SELECT
        params: list[object] = [since_seq]
        if types is not None:
            sql += f" AND type IN ({', '.join('?' for _ in types)})"  # placeholders only
            params += [str(t) for t in types]
        if agent is not None:
            sql += " AND agent = ?"
            params.append(agent)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [Event(seq, ts, sprint, agent_, chain, parse_type(type_), json.loads(data))
                for seq, ts, sprint, agent_, chain, type_, data in rows]

    def last_seq(self) -> int:
        """The seq of the newest event (0 for an empty log)."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def follow(self, since_seq: int = 0, *, types: Sequence[str] | None = None,
               poll_s: float = 0.2, idle_timeout_s: float | None = None) -> Iterator[Event]:
        """Yield events as they are appended (by any process), for ``--follow``.

        Runs until the caller stops iterating, or after ``idle_timeout_s`` without new events.
        """
        last, idle_since = since_seq, time.monotonic()
        while True:
            batch = self.read(last, types=types, limit=1000)
            if batch:
                yield from batch
                last, idle_since = batch[-1].seq, time.monotonic()
                continue
            if idle_timeout_s is not None and time.monotonic() - idle_since >= idle_timeout_s:
                return
            time.sleep(poll_s)

    # -- live state and snapshots ----------------------------------------------------------------

    def live(self, projection: Projection[S]) -> LiveState[S]:
        """The live state of ``projection`` over this log (one per projection name, shared)."""
        with self._lock:
            live = self._live.get(projection.name)
            if live is None:
                live = self._live[projection.name] = LiveState(self, projection,
                                                               snapshot_every=self.snapshot_every)
            return live

    def status(self) -> projections.Status:
        """The sprint's status, folded incrementally: cached state (or snapshot) plus new events."""
        status: projections.Status = self.live(projections.STATUS).get()
        return status

    def load_snapshot(self, name: str, version: int) -> tuple[int, Any] | None:
        """(seq, data) of the snapshot ``name`` if it was written by ``version`` of its fold."""
        with self._lock:
            row = self._db.execute(_LOAD_SNAPSHOT, (name,)).fetchone()
        if row is None or row[0] != version:
            return None
        return int(row[1]), json.loads(row[2])

    def save_snapshot(self, name: str, version: int, seq: int, data: Any) -> bool:
        """Save a folded state as of ``seq``; False when the database cannot be written."""
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        try:
            with self._write() as db:
                db.execute(_SAVE_SNAPSHOT, (name, version, seq, time.time(), text))
        except sqlite3.OperationalError:  # read-only database or file system: the state still works
            return False
        return True

    def _maybe_snapshot(self, seq: int) -> None:
        """Keep snapshots fresh from the writers' side: the status one always (so a fresh ``dispatch
        status`` is fast), and that of every other projection this object keeps live (the engine's)."""
        if not self.snapshot_every:
            return
        self.live(projections.STATUS)
        for live in list(self._live.values()):
            if live.snapshot_seq is None:
                found = self.load_snapshot(live.projection.name, live.projection.version)
                live.snapshot_seq = found[0] if found is not None else 0
            if seq - live.snapshot_seq >= self.snapshot_every:
                live.apply_new()
