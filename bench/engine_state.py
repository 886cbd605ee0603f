"""Engine state benchmark: the cost of one engine decision at 1k, 10k and 100k events in the log.

A decision is what the engine does before each step: read the state it needs (`Runtime.state()`).
It used to replay the whole log (`engine.state.fold(log.read())`): that baseline is measured in the
same run. The live state (`log.live(ENGINE).get()`) folds only the events appended since the last
decision; each timed decision below follows one new event, as in a running sprint. ``open_ms`` is
a fresh process opening the sprint (the engine's snapshot + the events after it).

    python bench/engine_state.py [--sizes 1000,10000,100000] [--decisions 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from agent_dispatch.engine.state import ENGINE, fold
from agent_dispatch.store.events import NewEvent
from agent_dispatch.store.log import EventLog

AGENTS = [f"agent-{i:03d}" for i in range(100)]


def sprint_event(i: int, rng: random.Random) -> NewEvent:
    """A mix like a real sprint's, from the engine's side: sessions, checks, claims, messages, gates."""
    agent = AGENTS[i % len(AGENTS)]
    chain = f"chain-{i % 4 + 1}"
    kind = rng.random()
    if kind < 0.30:
        return NewEvent("verification", agent=agent, chain=chain, data={
            "kind": "test", "name": "test", "ok": rng.random() > 0.2, "command": "python -m pytest -q",
            "returncode": 0, "round": f"{i // 7}", "output_tail": "." * rng.randint(50, 800)})
    if kind < 0.55:
        state = rng.choice(["TRACING", "FIXING", "VERIFYING", "COMPLETE"])
        return NewEvent("chain_state", agent=agent, chain=chain,
                        data={"state": state, "source": rng.choice(["agent", "tool"])})
    if kind < 0.65:
        return NewEvent("agent_session_started", agent=agent, data={
            "attempt": i // 100 + 1, "pid": 1000 + i, "session_id": f"s-{i}", "record": {"pid": 1000 + i}})
    if kind < 0.75:
        return NewEvent("agent_session_ended", agent=agent, data={"exit_code": 0, "reason": "exited"})
    if kind < 0.85:
        return NewEvent("session_outcome", agent=agent, data={
            "reason": "ended", "input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.01,
            "cli_session": f"cli-{agent}"})
    if kind < 0.92:
        return NewEvent("message_queued", agent=agent, data={"kind": "retry_1", "file": f"/m/{i}.md"})
    if kind < 0.96:
        return NewEvent("gate_passed", agent=agent, data={"gate": f"gate-3:{agent}"})
    return NewEvent("chain_failed", agent=agent, chain=chain, data={"tier": 1, "failures": []})


def build(path: Path, count: int, rng: random.Random) -> None:
    with EventLog(path) as log:
        log.live(ENGINE)  # as in a running engine: its state is folded and snapshotted as events arrive
        log.append("sprint_started", data={"agents": AGENTS})
        for start in range(1, count, 1000):
            log.append_many([sprint_event(i, rng) for i in range(start, min(start + 1000, count))])


def measure(count: int, decisions: int) -> dict[str, float]:
    rng = random.Random(count)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sprint-01" / "events.db"
        build(path, count, rng)
        with EventLog(path) as log:
            started = time.perf_counter()
            live = log.live(ENGINE)
            opened = live.get()
            open_ms = (time.perf_counter() - started) * 1000
            runs = 3 if count <= 10_000 else 1
            replay = []
            for _ in range(runs):
                started = time.perf_counter()
                full = fold(log.read())
                replay.append((time.perf_counter() - started) * 1000)
            assert opened == full, "live state differs from a full replay"
            times = []
            for i in range(decisions):
                log.append_many([sprint_event(count + i, rng)])  # one new fact, then a decision
                started = time.perf_counter()
                live.get()
                times.append((time.perf_counter() - started) * 1000)
            assert live.get() == fold(log.read()), "live state differs from a full replay"
    return {"events": count, "decision_ms": statistics.median(times), "decision_p95_ms":
            sorted(times)[int(len(times) * 0.95)], "replay_ms": statistics.median(replay), "open_ms": open_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--decisions", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [measure(size, args.decisions) for size in sizes]
    print(f"{'events':>8} {'decision ms':>12} {'p95 ms':>8} {'replay ms':>10} {'ratio':>8} {'open ms':>8}")
    for row in rows:
        print(f"{row['events']:>8} {row['decision_ms']:>12.3f} {row['decision_p95_ms']:>8.3f} "
              f"{row['replay_ms']:>10.1f} {row['replay_ms'] / row['decision_ms']:>8.0f} {row['open_ms']:>8.1f}")
    for row in rows:
        print(f"RESULT engine_state events={row['events']} decision_ms={row['decision_ms']:.3f} "
              f"replay_ms={row['replay_ms']:.1f} ratio={row['replay_ms'] / row['decision_ms']:.0f}")


if __name__ == "__main__":
    main()
