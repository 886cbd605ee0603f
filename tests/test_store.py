"""The event log (SQLite WAL, append-only, multi-process) and the status projections."""

from __future__ import annotations

import enum
import itertools
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import types
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent_dispatch.errors import FatalError
from agent_dispatch.store import EventLog, EventType, NewEvent, events_path, project
from agent_dispatch.store import log as log_module
from agent_dispatch.store.events import NEEDS_CHAIN, PAYLOADS, validate
from agent_dispatch.store.projections import PROJECTION_VERSION, STATUS

PLAN = {
    "agents": [{"name": "data", "role": "DATA"}, {"name": "backend", "role": "BACKEND"},
               {"name": "qa", "role": "QA"}],
    "waves": {"1": ["data"], "2": ["backend", "qa"]},
    "chains": {"data": ["chain-1"], "backend": ["chain-1", "chain-2"], "qa": ["chain-1"]},
}


@pytest.fixture
def log(tmp_path: Path):
    with EventLog(events_path(tmp_path, "sprint-01")) as event_log:
        yield event_log


def started(log: EventLog) -> EventLog:
    log.append("sprint_started", data=PLAN)
    return log


# -- the log --------------------------------------------------------------------------------------

def test_location_mode_and_schema_version(tmp_path: Path, log: EventLog) -> None:
    assert log.path == tmp_path / ".dispatch" / "sprint-01" / "events.db"
    assert log.sprint == "sprint-01"
    db = sqlite3.connect(log.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == log_module.SCHEMA_VERSION
    db.close()
    EventLog(log.path).close()  # opening again is a no-op


def test_append_and_read(log: EventLog) -> None:
    assert log.last_seq() == 0
    first = log.append("agent_started", agent="backend", data={"wave": 2, "worktree": Path("/w")})
    seqs = log.append_many([
        NewEvent("chain_state", "backend", "chain-1", {"state": "TRACING"}),
        NewEvent("verification", "backend", "chain-1", {"kind": "test", "ok": False, "output": "E"}),
    ])
    assert [first, *seqs] == [1, 2, 3] and log.last_seq() == 3
    events = log.read()
    assert [e.type for e in events] == ["agent_started", "chain_state", "verification"]
    assert events[0].type is EventType.AGENT_STARTED and events[0].is_known
    assert events[0].data == {"wave": 2, "worktree": "/w"}  # JSON; paths become strings
    assert (events[1].sprint, events[1].agent, events[1].chain) == ("sprint-01", "backend", "chain-1")
    assert [e.seq for e in log.read(since_seq=1)] == [2, 3]
    assert [e.seq for e in log.read(types=["verification", "agent_started"])] == [1, 3]
    assert log.read(agent="qa") == [] and len(log.read(limit=2)) == 2
    assert json.loads(json.dumps(events[2].as_data()))["type"] == "verification"


@pytest.mark.parametrize("kwargs, message", [
    ({"type": "agent_exploded", "agent": "a"}, "unknown event type 'agent_exploded'"),
    ({"type": "agent_state", "agent": "a"}, "missing data key"),
    ({"type": "agent_state", "data": {"state": "ACTIVE"}}, "needs an agent"),
    ({"type": "agent_state", "agent": "a", "data": {"state": "SLEEPING"}}, "state='SLEEPING'"),
    ({"type": "chain_state", "agent": "a", "data": {"state": "FIXING"}}, "needs a chain"),
    ({"type": "chain_state", "agent": "a", "chain": "c",
      "data": {"state": "PARKED", "park_reason": "bored"}}, "park_reason='bored'"),
    ({"type": "gate_overridden", "data": {"gate": 2}}, "reason"),
])
def test_invalid_events_are_refused(log: EventLog, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        log.append(**kwargs)
    assert log.last_seq() == 0


def test_append_many_is_all_or_nothing(log: EventLog) -> None:
    with pytest.raises(ValueError):
        log.append_many([NewEvent("wave_started", data={"wave": 1}), NewEvent("wave_started")])
    assert log.last_seq() == 0


def test_the_database_refuses_update_and_delete(log: EventLog) -> None:
    log.append("wave_started", data={"wave": 1})
    db = sqlite3.connect(log.path)
    for statement in ("UPDATE events SET type = 'x'", "DELETE FROM events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)
    db.close()
    assert len(log.read()) == 1


def test_unknown_types_from_a_newer_version_still_load(log: EventLog) -> None:
    started(log)
    db = sqlite3.connect(log.path)
    with db:
        db.execute("INSERT INTO events (ts, sprint, agent, chain, type, data) VALUES (?, ?, ?, ?, ?, ?)",
                   (time.time(), "sprint-01", "qa", None, "hologram_projected", '{"x": 1}'))
    db.close()
    log.append("agent_started", agent="qa")
    events = log.read()
    assert events[1].type == "hologram_projected" and not events[1].is_known
    status = log.status()
    assert (status.unknown_events, status.events, status.agents["qa"].state) == (1, 3, "ACTIVE")


def test_known_types_the_board_does_not_show_are_not_unknown(log: EventLog) -> None:
    """Defect 11: `status --json` counted known but unprojected types (chain_failed, ...) as unknown."""
    started(log)
    log.append("chain_failed", agent="qa", chain="chain-1", data={"tier": 1})
    log.append("message_queued", agent="qa", data={"kind": "retry", "file": "m.md"})
    status = log.status()
    assert (status.unknown_events, status.events) == (0, 3)


def test_newer_schema_reads_but_refuses_to_append(log: EventLog) -> None:
    log.append("wave_started", data={"wave": 1})
    db = sqlite3.connect(log.path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    newer = EventLog(log.path)
    assert len(newer.read()) == 1
    with pytest.raises(FatalError, match="newer agent-dispatch"):
        newer.append("wave_completed", data={"wave": 1})
    newer.close()


APPENDER = textwrap.dedent("""
    import sys
    from agent_dispatch.store import EventLog
    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with EventLog(path, sprint="sprint-01", snapshot_every=50) as log:
        for i in range(count):
            log.append("intervention_sent", agent=name, data={"intervention": "INT-08", "i": i})
""")


def test_several_processes_append_at_once(tmp_path: Path) -> None:
    path = events_path(tmp_path, "sprint-01")  # not created yet: processes race to create it too
    procs = [subprocess.Popen([sys.executable, "-c", APPENDER, str(path), f"agent-{n}", "150"])
             for n in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    with EventLog(path) as log:
        events = log.read()
        assert [e.seq for e in events] == list(range(1, 601))
        for n in range(4):
            assert [e.data["i"] for e in events if e.agent == f"agent-{n}"] == list(range(150))
        assert {a: s.interventions for a, s in log.status().agents.items()} == \
            {f"agent-{n}": 150 for n in range(4)}


def test_follow_sees_appends_from_another_connection(log: EventLog) -> None:
    log.append("wave_started", data={"wave": 1})

    def append_later() -> None:
        with EventLog(log.path) as other:
            for wave in (2, 3):
                time.sleep(0.05)
                other.append("wave_started", data={"wave": wave})

    writer = threading.Thread(target=append_later)
    writer.start()
    seen = [e.data["wave"] for e in log.follow(poll_s=0.01, idle_timeout_s=0.5)]
    writer.join()
    assert seen == [1, 2, 3]
    assert list(log.follow(since_seq=3, idle_timeout_s=0)) == []


# -- projections ----------------------------------------------------------------------------------

def test_board_chains_waves_attempts_and_verifications(log: EventLog) -> None:
    started(log)
    log.append("wave_started", data={"wave": 1})
    log.append("agent_started", agent="data", data={"wave": 1})
    log.append("agent_session_started", agent="data",
               data={"attempt": 1, "pid": 123, "session_id": "sprint-01-data-1"})
    log.append("chain_state", agent="data", chain="chain-1", data={"state": "FIXING"})
    log.append("verification", agent="data", chain="chain-1",
               data={"kind": "test", "command": "pytest", "ok": False, "output": "x" * 5000})
    log.append("retry_scheduled", agent="data", chain="chain-1", data={"tier": 1})
    log.append("agent_session_ended", agent="data", data={"exit_code": 0, "reason": "exited"})
    log.append("agent_session_started", agent="data", data={"attempt": 2, "pid": 124, "session_id": "s2"})
    status = log.status()
    data = status.agents["data"]
    assert (data.state, data.attempts, data.current_chain, data.retries) == ("ACTIVE", 2, "chain-1", 1)
    assert data.session["pid"] == 124 and data.last_session["reason"] == "exited"
    assert data.verifications["test"]["ok"] is False
    assert len(data.verifications["test"]["output_tail"]) == 2000
    chain = status.chains["data/chain-1"]
    assert (chain.state, chain.retries, chain.attempts) == ("FIXING", 1, 2)
    assert status.health == "YELLOW" and status.health_reasons == ("chain data/chain-1 on retry 1",)

    log.append("chain_state", agent="data", chain="chain-1", data={"state": "COMPLETE"})
    log.append("agent_state", agent="data", data={"state": "COMPLETE"})
    log.append("wave_completed", data={"wave": 1})
    log.append("gate_passed", data={"gate": "gate2", "wave": 1})
    log.append("wave_started", data={"wave": 2})
    log.append("chain_state", agent="backend", chain="chain-2",
               data={"state": "PARKED", "park_reason": "retry_exhausted"})
    status = log.status()
    assert {w.number: w.state for w in status.waves.values()} == {"1": "COMPLETE", "2": "ACTIVE"}
    assert {n: a.state for n, a in status.agents.items()} == \
        {"data": "COMPLETE", "backend": "IDLE", "qa": "IDLE"}
    assert (status.agents["data"].chains_done, status.agents["backend"].chains_total) == (1, 2)
    assert status.chains["backend/chain-2"].park_reason == "retry_exhausted"
    assert status.chain_states("backend") == {"chain-1": "QUEUED", "chain-2": "PARKED"}
    assert status.gates[-1].gate == "2" and status.health == "GREEN"
    json.dumps(status.as_data())  # what `dispatch status --json` prints


@pytest.fixture
def health(tmp_path: Path):
    """Health and reasons after the plan plus ``(type, agent, data)`` events, in a fresh log."""
    logs = itertools.count()

    def run(*events: tuple) -> tuple[str, tuple[str, ...]]:
        with EventLog(tmp_path / f"log{next(logs)}" / "events.db") as log:
            started(log)
            for type_, agent, data in events:
                log.append(type_, agent=agent, data=data)
            status = log.status()
            return status.health, status.health_reasons

    return run


def test_health_rules(health) -> None:
    assert health() == ("GREEN", ())
    blocked = ("agent_state", "backend", {"state": "BLOCKED", "reason": "needs DATA chain 1"})
    assert health(blocked) == ("YELLOW", ("agent backend BLOCKED",))
    assert health(blocked, ("agent_state", "qa", {"state": "BLOCKED"}))[0] == "RED"
    assert health(("agent_state", "qa", {"state": "FAILED"})) == ("RED", ("agent qa FAILED",))
    p0 = ("p0_discovered", "data", {"id": "P0-1", "description": "orders table corrupts"})
    assert health(p0) == ("RED", ("P0 P0-1 not triaged",))
    assert health(p0, ("p0_triaged", None, {"p0": "P0-1", "decision": "fix now"}))[0] == "GREEN"
    violation = ("territory_violation", "qa", {"paths": ["src/api.py"]})
    assert health(violation) == ("YELLOW", ("agent qa territory violation: src/api.py",))
    assert health(violation, ("gate_passed", "qa", {"gate": 3}))[0] == "GREEN"
    failed_merge = ("merge_step", "backend", {"ok": False, "checks": [{"kind": "test", "ok": False}]})
    assert health(failed_merge) == ("RED", ("merge of backend failed validation",))
    assert health(failed_merge, ("merge_step", "backend", {"ok": True}))[0] == "GREEN"
    assert health(("merge_step", "qa", {"ok": False, "conflicts": ["a.py"]}))[0] == "YELLOW"
    assert health(("gate_failed", None, {"gate": 2, "wave": 1}))[0] == "RED"
    assert health(("gate_failed", "qa", {"gate": 3}), ("gate_overridden", "qa",
                                                       {"gate": 3, "reason": "flaky"}))[0] == "GREEN"
    unvalidated = ("ref_updated", None, {"ref": "refs/heads/main", "old": "a", "new": "b", "validated": False})
    assert health(unvalidated)[0] == "RED"


# -- incremental == full replay -------------------------------------------------------------------

AGENTS = st.sampled_from(["data", "backend", "qa"])
CHAINS = st.sampled_from(["chain-1", "chain-2"])
EVENTS = st.one_of(
    st.builds(lambda a, s: NewEvent("agent_state", a, None, {"state": s}), AGENTS,
              st.sampled_from(["ACTIVE", "BLOCKED", "REVIEW", "COMPLETE", "FAILED"])),
    st.builds(lambda a, c, s: NewEvent("chain_state", a, c, {"state": s}), AGENTS, CHAINS,
              st.sampled_from(["TRACING", "FIXING", "VERIFYING", "COMPLETE", "BLOCKED"])),
    st.builds(lambda a, c, t: NewEvent("retry_scheduled", a, c, {"tier": t}), AGENTS, CHAINS,
              st.integers(1, 3)),
    st.builds(lambda a, c, ok: NewEvent("verification", a, c, {"kind": "test", "ok": ok}),
              AGENTS, CHAINS, st.booleans()),
    st.builds(lambda a, n: NewEvent("agent_session_started", a, None,
                                    {"attempt": n, "pid": 1, "session_id": f"s{n}"}), AGENTS,
              st.integers(1, 4)),
    st.builds(lambda a: NewEvent("territory_violation", a, None, {"paths": ["x.py"]}), AGENTS),
    st.builds(lambda w: NewEvent("wave_started", None, None, {"wave": w}), st.integers(1, 3)),
    st.builds(lambda a, ok: NewEvent("merge_step", a, None, {"ok": ok}), AGENTS, st.booleans()),
    st.builds(lambda g, r: NewEvent(r, None, None, {"gate": g, "reason": "r"}), st.integers(1, 5),
              st.sampled_from(["gate_passed", "gate_failed", "gate_overridden"])),
)


def _values(annotation: object) -> st.SearchStrategy:
    """Values of one payload field's type, drawn from names the folds know (agents, chains, gates)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*(_values(arg) for arg in args))
    if origin is list:
        return st.lists(_values(args[0]), max_size=2)
    if origin is dict or annotation is dict:
        return st.just({})
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    return {type(None): st.none(), bool: st.booleans(), int: st.integers(0, 4), float: st.floats(0, 100),
            str: st.sampled_from(["data", "chain-1", "1", "2", "gate-3:data", "x.py", "refs/heads/main", ""])
            }.get(annotation, st.just(None))  # type: ignore[arg-type]


@st.composite
def any_event(draw, type_: EventType) -> NewEvent:
    """An event of ``type_`` with every required key of its payload model, valid on append."""
    model = PAYLOADS[type_]
    data = {name: draw(_values(info.annotation)) for name, info in model.model_fields.items()
            if info.is_required() or draw(st.booleans())}
    event = NewEvent(type_, draw(AGENTS), draw(st.none() | CHAINS) if type_ not in NEEDS_CHAIN else draw(CHAINS),
                     json.loads(json.dumps(data, default=str)))
    try:
        validate(event.type, agent=event.agent, chain=event.chain, data=event.data)
    except ValueError:
        assume(False)
    return event


# Every event type the log knows, so that no fold is left out of the property below.
ALL_EVENTS = st.one_of(EVENTS, *(any_event(t) for t in EventType if t != EventType.SPRINT_STARTED))


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_the_property_covers_every_event_type(data: st.DataObject) -> None:
    """Each type has a payload model and the strategy draws a valid event of it."""
    assert set(PAYLOADS) == set(EventType)
    for type_ in EventType:
        if type_ != EventType.SPRINT_STARTED:  # the fixture's first event, with the plan
            assert data.draw(any_event(type_)).type == type_


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.filter_too_much])
@given(batches=st.lists(st.lists(ALL_EVENTS, max_size=12), min_size=1, max_size=6))
def test_incremental_status_equals_full_replay(tmp_path_factory, batches) -> None:
    path = tmp_path_factory.mktemp("inc") / "sprint-01" / "events.db"
    with EventLog(path, snapshot_every=5) as writer:
        started(writer)
        for batch in batches:
            writer.append_many(batch)
            assert writer.status() == project(writer.read())  # warm in-memory fold
    with EventLog(path, snapshot_every=5) as fresh:  # another process: snapshot + the tail
        assert fresh.status() == project(fresh.read())


def test_fresh_reader_starts_from_a_recent_snapshot(tmp_path: Path) -> None:
    path = events_path(tmp_path, "sprint-01")
    with EventLog(path, snapshot_every=100) as writer:
        started(writer)
        for i in range(1050):
            writer.append("verification", agent="qa", data={"kind": "test", "ok": i % 2 == 0})
    with EventLog(path, snapshot_every=100) as reader:
        status = reader.status()
        live = reader.live(STATUS)
        assert live.snapshot_seq is not None and live.snapshot_seq >= 1051 - 100
        assert status == project(reader.read())
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE snapshots SET version = ?", (PROJECTION_VERSION + 1,))  # stale shape
    db.close()
    with EventLog(path) as reader:
        assert reader.status() == status  # rebuilt from the events, not the stale snapshot
