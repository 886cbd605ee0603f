"""Live state: a projection of the event log that advances event by event and is snapshotted.

A `Projection` is a pure fold (``new`` → ``apply`` per event) plus a JSON form of its state.
`LiveState` keeps one projection of one log up to date: each `get` applies only the events
appended since the last call (by any process), so reading the state costs O(new events), not
O(log). Every ``snapshot_every`` events the folded state is saved in the log's ``snapshots``
table, so a fresh process opens a sprint with 100k events from the snapshot plus a short tail.
A snapshot is only a cache: one whose version differs from the projection's is ignored and the
state is rebuilt from the events, which is why a projection's version must change whenever its
shape or the meaning of its fold does.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from agent_dispatch.store.events import Event

S = TypeVar("S")

SNAPSHOT_EVERY = 2000  # events folded since the last snapshot before a new one is written
_BATCH = 5000  # events read per query while catching up


class Projection(Protocol[S]):
    """A fold of the event log into a state of type ``S`` (see `LiveState`)."""

    name: str  # the snapshot's key
    version: int  # bump when the state's shape or the fold's meaning changes

    def new(self) -> S:
        """The state before any event."""

    def apply(self, state: S, event: Event) -> None:
        """Fold one event into ``state`` in place."""

    def dump(self, state: S) -> Any:
        """A JSON-able form of ``state`` for the snapshot."""

    def load(self, data: Any) -> S:
        """The state back from `dump` output."""

    def view(self, state: S) -> Any:
        """What readers get: a value that later events do not change under their feet."""


class SnapshotStore(Protocol):
    """What `LiveState` needs from the log (implemented by `EventLog`)."""

    def read(self, since_seq: int = 0, *, types: Sequence[str] | None = None,
             agent: str | None = None, limit: int | None = None) -> list[Event]: ...

    def last_seq(self) -> int: ...

    def load_snapshot(self, name: str, version: int) -> tuple[int, Any] | None: ...

    def save_snapshot(self, name: str, version: int, seq: int, data: Any) -> bool: ...


class LiveState(Generic[S]):
    """One projection of one log, kept current incrementally. Thread-safe."""

    def __init__(self, log: SnapshotStore, projection: Projection[S], *,
                 snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.log = log
        self.projection = projection
        self.snapshot_every = snapshot_every
        self._lock = threading.Lock()
        self._state: S | None = None
        self.seq = 0  # the last event folded in
        self.snapshot_seq: int | None = None  # the seq of the newest snapshot known

    def get(self) -> Any:
        """The projection's view after every event appended so far."""
        with self._lock:
            state = self._catch_up()
            return self.projection.view(state)

    def apply_new(self) -> int:
        """Fold in whatever was appended since the last call; returns the last seq folded."""
        with self._lock:
            self._catch_up()
            return self.seq

    def _catch_up(self) -> S:
        if self._state is None:
            self._state = self._open()
        state = self._state
        while True:
            batch = self.log.read(self.seq, limit=_BATCH)
            for event in batch:
                self.projection.apply(state, event)
            if batch:
                self.seq = batch[-1].seq
            if len(batch) < _BATCH:
                break
        if self.snapshot_every and self.seq - (self.snapshot_seq or 0) >= self.snapshot_every:
            if self.log.save_snapshot(self.projection.name, self.projection.version, self.seq,
                                      self.projection.dump(state)):
                self.snapshot_seq = self.seq
        return state

    def _open(self) -> S:
        found = self.log.load_snapshot(self.projection.name, self.projection.version)
        if found is not None and found[0] <= self.log.last_seq():
            self.seq, data = found
            self.snapshot_seq = self.seq
            return self.projection.load(data)
        self.seq, self.snapshot_seq = 0, 0
        return self.projection.new()
