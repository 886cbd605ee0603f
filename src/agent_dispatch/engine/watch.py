"""What one agent session must not touch, compared before and after it.

Without the sandbox an agent runs as the user and can write anywhere the user can: the main
checkout, other agents' worktrees, ``.dispatch/``. The ref guard and gate 3 cover its own branch;
this catches the rest after the fact and records an ``outside_write`` event for each place:

* the main checkout: its HEAD and uncommitted files (size, mtime) before and after the session;
* the event log: a log deleted or replaced during the session is written back from the engine's
  open connection, which still holds every event;
* the worktrees of the other agents of its wave: each is remembered when the engine is done with
  its agent (after that agent's session has been judged), and compared after every other
  session, as long as its own agent has not run a session since.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.store.events import EventType

MAIN_CHECKOUT = "main checkout"
EVENT_LOG = "event log"


@dataclass(frozen=True)
class Place:
    """One checkout as it was: its HEAD commit and its uncommitted files (path → size, mtime)."""

    head: str | None
    dirty: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Snapshot:
    """The main checkout as it was when a session of ``agent`` started."""

    agent: str
    main: Place | None


# (main checkout, agent) → (the agent's session count, its worktree) when the engine was last done
# with it: what another agent's session must leave as it is.
_remembered: dict[tuple[Path, str], tuple[int, Place]] = {}


def _place(path: Path, ignore: str | None = None) -> Place | None:
    if not path.is_dir():
        return None
    dirty: dict[str, tuple[int, int]] = {}
    for name in git.uncommitted_files(path):
        if ignore and name.startswith(ignore):
            continue
        try:
            st = (path / name).lstat()
            dirty[name] = (st.st_size, st.st_mtime_ns)
        except OSError:
            dirty[name] = (-1, -1)  # deleted
    return Place(git.try_rev_parse(path, "HEAD"), dirty)


def _main(rt: Runtime) -> Place | None:
    sprint_dir = str(rt.context.sprint_dir).rstrip("/") + "/"  # the tool writes there itself
    return _place(rt.root, ignore=sprint_dir)


def snapshot(rt: Runtime, agent: str) -> Snapshot:
    """The main checkout before ``agent``'s session starts."""
    return Snapshot(agent, _main(rt))


def remember(rt: Runtime, agent: str) -> None:
    """Note ``agent``'s worktree as the engine leaves it (its session judged, follow-ups queued)."""
    place = _place(rt.context.agent(agent).worktree)
    if place is not None:
        _remembered[(rt.root, agent)] = (rt.state().agents[agent].attempts, place)


def _wave_mates(rt: Runtime, agent: str) -> list[str]:
    for wave in rt.plan.waves:
        if agent in wave.agents:
            return [name for name in wave.agents if name != agent]
    return []


def _changed(before: Place, after: Place) -> list[str]:
    paths = sorted(p for p in set(before.dirty) | set(after.dirty) if before.dirty.get(p) != after.dirty.get(p))
    if before.head != after.head:
        paths.insert(0, f"HEAD {(before.head or '-')[:12]} → {(after.head or '-')[:12]}")
    return paths


def check(rt: Runtime, before: Snapshot, attempt: int) -> list[str]:
    """Record what changed outside the agent's worktree during its session; returns the places.

    The event log is checked first: a deleted log is written back before anything is recorded.
    """
    found: list[str] = []
    what = rt.log.restore_if_replaced()
    if what is not None:
        rt.record(EventType.OUTSIDE_WRITE, agent=before.agent, place=EVENT_LOG, attempt=attempt,
                  paths=[str(rt.log.path)], detail=f"the event log was {what} during the session; "
                                                   "the engine wrote its copy back")
        found.append(EVENT_LOG)
    places: list[tuple[str, Place | None, Place | None]] = [(MAIN_CHECKOUT, before.main, _main(rt))]
    state = rt.state()
    for other in _wave_mates(rt, before.agent):
        remembered = _remembered.get((rt.root, other))
        progress = state.agents.get(other)
        if remembered is None or progress is None or progress.open_session is not None \
                or progress.attempts != remembered[0]:
            continue  # never left by the engine yet, or its own agent has worked in it since
        worktree = rt.context.agent(other).worktree
        now = _place(worktree)
        places.append((f"worktree {worktree}", remembered[1], now))
        if now is not None:
            _remembered[(rt.root, other)] = (remembered[0], now)  # report each change once
    for label, was, now in places:
        if was is None or now is None:
            continue
        paths = _changed(was, now)
        if paths:
            rt.record(EventType.OUTSIDE_WRITE, agent=before.agent, place=label, attempt=attempt, paths=paths[:50],
                      detail=f"{label} changed while {before.agent}'s session ran")
            found.append(label)
    if found:
        rt.say(f"{before.agent}: changes outside its worktree during session {attempt}: {', '.join(found)}")
    return found
