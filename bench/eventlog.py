"""Event log benchmark: append rate and status projection time at 100k events.

The baseline, measured in the same run, is a naive status: replay every event from scratch
(`projections.project(log.read())`). The fast path is `EventLog.status()` from a fresh process-like
log object (snapshot + the events after it).

    python bench/eventlog.py [--events 100000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from agent_dispatch.store import projections
from agent_dispatch.store.events import NewEvent
from agent_dispatch.store.log import EventLog

AGENTS = [f"agent-{i:02d}" for i in range(20)]


def realistic(i: int, rng: random.Random) -> NewEvent:
    """A mix like a real sprint's: sessions, chain states, verifications with output tails."""
    agent = AGENTS[i % len(AGENTS)]
    kind = rng.random()
    if kind < 0.5:
        state = rng.choice(["TRACING", "FIXING", "VERIFYING", "COMPLETE"])
        return NewEvent("chain_state", agent=agent, chain=f"chain-{i % 5 + 1}", data={"state": state, "source": "agent"})
    if kind < 0.85:
        return NewEvent("verification", agent=agent, data={"kind": "test", "name": "test", "ok": rng.random() > 0.2,
                                                           "command": "python -m pytest -q", "returncode": 0,
                                                           "output": "." * rng.randint(50, 800)})
    if kind < 0.95:
        return NewEvent("agent_session_started", agent=agent, data={"attempt": i % 4 + 1, "pid": 1000 + i,
                                                                    "session_id": f"s-{i}"})
    return NewEvent("agent_session_ended", agent=agent, data={"exit_code": 0, "reason": "exited"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sprint-99" / "events.db"
        log = EventLog(path)
        log.append("sprint_started", data={"agents": [{"name": a, "wave": 1} for a in AGENTS]})
        # Single appends: one transaction each, as the engine and `dispatch chain` write.
        single = 2000
        began = time.perf_counter()
        for i in range(single):
            ev = realistic(i, rng)
            log.append(ev.type, agent=ev.agent, chain=ev.chain, data=dict(ev.data))
        single_rate = single / (time.perf_counter() - began)
        # The rest in batches of 500 (to reach the size quickly; reported separately).
        began = time.perf_counter()
        remaining = args.events - single - 1
        for start in range(0, remaining, 500):
            log.append_many([realistic(single + start + j, rng) for j in range(min(500, remaining - start))])
        batch_rate = remaining / (time.perf_counter() - began)
        log.close()

        fresh = EventLog(path)  # a new `dispatch status` process
        began = time.perf_counter()
        status = fresh.status()
        status_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        baseline = projections.project(fresh.read())
        baseline_ms = (time.perf_counter() - began) * 1000
        assert baseline.as_data() == status.as_data(), "fast status differs from a full replay"
        print(f"events: {status.events}")
        print(f"append, one transaction per event: {single_rate:,.0f} events/s")
        print(f"append, batches of 500:            {batch_rate:,.0f} events/s")
        print(f"status at {status.events:,} events: {status_ms:.1f} ms (full replay baseline {baseline_ms:.0f} ms, "
              f"x{baseline_ms / status_ms:.0f})")
        print(f"RESULT eventlog events_per_s={single_rate:.0f} status_ms_at_100k={status_ms:.1f}")


if __name__ == "__main__":
    main()
