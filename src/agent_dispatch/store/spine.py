"""The event spine's delivery side: async subscribers get every durable event, in order, once.

One `Spine` watches one sprint's log. Subscribers (reactions, the live board, the TUI, the web
dashboard) each hold a `Subscription`: an async iterator of `Event` s with ``seq`` greater than
where it started, delivered in ``seq`` order, each exactly once, and only after the event is
committed (it is read back from the database, never handed over from the writer's memory).

How new events are noticed:
- appends through an `EventLog` in this process wake the spine at once (`EventLog.add_listener`);
- appends by other processes (``dispatch chain``/``p0`` from agent sessions, operator commands)
  are found by polling ``PRAGMA data_version`` every `POLL_S` on the spine's own connection, a
  few microseconds per poll; a full check runs every `SAFETY_S` regardless.
The database is the buffer: a subscriber that falls behind holds at most `QUEUE_SIZE` events in
memory and is refilled from the log as it drains, so a slow subscriber only lags.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType

from agent_dispatch.store.events import Event
from agent_dispatch.store.log import EventLog

POLL_S = 0.05  # how often other processes' commits are looked for
SAFETY_S = 1.0  # a read runs at least this often even when nothing seems to have changed
QUEUE_SIZE = 500  # events buffered per subscriber; the rest stay in the log until it drains
_BATCH = 500


class Subscription:
    """Events after ``since_seq``, in order, each once. Use ``async for`` or `next_event`."""

    def __init__(self, spine: Spine, since_seq: int) -> None:
        self._spine = spine
        self.cursor = since_seq  # seq of the last event handed to the queue
        self._queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        event = await self._queue.get()
        self._spine.wake()  # room in the queue: the spine may refill it from the log
        return event

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, or None if none arrives within ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except (TimeoutError, StopAsyncIteration):
            return None

    def close(self) -> None:
        """Stop receiving events (events already queued can still be read)."""
        self.closed = True
        self._spine._subscriptions.discard(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()


class Spine:
    """Delivers the events of one log to in-process async subscribers (see the module docstring).

    Create it inside a running event loop (its watcher is an asyncio task started by the first
    `subscribe`). ``log`` is the `EventLog` this process writes through, so its own appends wake
    the spine immediately; without one, only polling finds new events.
    """

    def __init__(self, path: str | Path, *, log: EventLog | None = None, poll_s: float = POLL_S) -> None:
        self.path = Path(path)
        self.poll_s = poll_s
        self._subscriptions: set[Subscription] = set()
        self._reader = EventLog(self.path, snapshot_every=0)  # its own connection
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._unlisten = log.add_listener(lambda _seq: self.wake()) if log is not None else None

    def subscribe(self, since_seq: int = 0) -> Subscription:
        """A new subscription to every event with ``seq > since_seq`` (0: the whole log)."""
        subscription = Subscription(self, since_seq)
        self._subscriptions.add(subscription)
        self._ensure_running()
        self.wake()
        return subscription

    def wake(self) -> None:
        """Look for new events now (thread-safe; called after local appends)."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:  # the loop closed meanwhile
            return

    def _ensure_running(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._watch(), name=f"spine:{self.path}")

    def _data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    async def _watch(self) -> None:
        assert self._wake is not None
        version, last_read = -1, 0.0
        while True:
            current = self._data_version()
            now = time.monotonic()
            if self._wake.is_set() or current != version or now - last_read >= SAFETY_S:
                self._wake.clear()
                version, last_read = current, now
                self._deliver()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    def _deliver(self) -> None:
        """Hand every subscriber the events after its cursor, as far as its queue has room."""
        while True:
            hungry = [s for s in self._subscriptions if not s._queue.full()]
            if not hungry:
                return
            start = min(s.cursor for s in hungry)
            batch = self._reader.read(start, limit=_BATCH)
            if not batch:
                return
            for subscription in hungry:
                for event in batch:
                    if event.seq <= subscription.cursor:
                        continue
                    if subscription._queue.full():
                        break
                    subscription._queue.put_nowait(event)
                    subscription.cursor = event.seq
            if len(batch) < _BATCH:
                return

    async def aclose(self) -> None:
        """Stop watching and close every subscription and connection."""
        for subscription in list(self._subscriptions):
            subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._unlisten is not None:
            self._unlisten()
        self._reader.close()
        self._db.close()

    async def __aenter__(self) -> Spine:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
