"""The chaos bench (bench/chaos.py): ``dispatch run`` of the example sprint SIGKILLed at seeded random
points and resumed; every run must end as an uninterrupted one did.

The default run kills at three points (seed 9: after the engine's 48th event, from outside after a
delay, after the 78th event and then in the first resume); the long run (marked ``long``, run by
.ci/run) at the bench's 20 seeded points. Defects the bench found have named kill points in
tests/test_kill_points.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK_SEED = 9  # three runs that kill after an event, from outside, and in a resume too


def chaos(runs: int, seed: int | None, timeout: float) -> str:
    """The bench's output; fails the test with all of it unless every run was ok."""
    argv = [sys.executable, str(ROOT / "bench" / "chaos.py"), "--runs", str(runs)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    bench = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    out = bench.stdout + bench.stderr
    last = bench.stdout.strip().splitlines()[-1] if bench.stdout.strip() else ""
    assert last == f"RESULT chaos runs={runs} ok={runs} lost_commits=0 duplicate_messages=0", out
    assert bench.returncode == 0, out
    return bench.stdout


def test_chaos_quick() -> None:
    out = chaos(3, QUICK_SEED, timeout=600)
    points = re.findall(r"^run \d/3: (kill .*)$", out, re.M)
    assert len(points) == 3, out
    # the quick seed keeps its variety: a kill from outside, one after an event, a killed resume
    assert any("from outside" in p for p in points) and any("after event" in p for p in points), out
    assert any("in the first resume" in p for p in points), out


@pytest.mark.long
def test_chaos_twenty_points() -> None:
    out = chaos(20, None, timeout=1500)  # the bench's own seed: the same points every time
    print(out)  # the points and verdicts, in .ci/run's output (pytest -s)
    assert len(re.findall(r"^run \d+/20: ok ", out, re.M)) == 20, out
