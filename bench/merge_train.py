"""Merge train benchmark: 64 clean branches, 2 culprits that break tests only once merged.

Serial (the seed's merge-then-validate loop) vs batch (validate the tip, bisect on failure) vs
strict with 2 speculative validation slots. Prints validation runs, rounds, wall time and ratios,
checks the final trees agree where the accepted sets do, and ends with one RESULT line.

    python bench/merge_train.py [--branches 64] [--culprits 2] [--test-cost 0.1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from agent_dispatch.merge.chain import Candidate
from agent_dispatch.merge.train import Train
from agent_dispatch.merge.validation import ValidationPool

CHECK = '''import pathlib, sys, time
time.sleep({cost})  # the fixed cost of the test suite
parts = pathlib.Path("parts")
for f in sorted(parts.glob("*.txt")):
    text = f.read_text()
    if text.startswith("conflicts-with:") and (parts / (text.split(":", 1)[1].strip() + ".txt")).exists():
        sys.exit(f"{{f.name}} cannot live with {{text.split(':', 1)[1].strip()}}")
'''

ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@localhost",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@localhost"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=ENV).stdout


def make_repo(root: Path, branches: int, culprits: int, cost: float) -> tuple[Path, list[Candidate], set[str]]:
    repo = root / "repo"
    (repo / "parts").mkdir(parents=True)
    (repo / "check.py").write_text(CHECK.format(cost=cost))
    (repo / "parts" / "base.txt").write_text("ok\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "commit-graph", "write", "--reachable")
    # Culprits sit in the second and fourth quarters; each clashes with an earlier, clean branch.
    bad = {f"b{(branches * (2 * k + 1)) // (2 * culprits) + 1:02d}" for k in range(culprits)}
    candidates = []
    for i in range(branches):
        name = f"b{i:02d}"
        git(repo, "checkout", "-q", "-b", f"sprint-99/{name}", "main")
        content = f"conflicts-with:b{i - 10:02d}\n" if name in bad else "ok\n"
        (repo / "parts" / f"{name}.txt").write_text(content)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"{name}: add part")
        candidates.append(Candidate(name, "BACKEND", f"sprint-99/{name}"))
    git(repo, "checkout", "-q", "main")
    return repo, candidates, bad


def run_mode(repo: Path, candidates, mode: str, slots: int, workdir: Path):
    pool = ValidationPool(repo, workdir / f"validate-{mode}", build="python -c pass", test="python check.py",
                          slots=slots)
    train = Train(str(repo), pool, sprint="sprint-99")
    start = git(repo, "rev-parse", "main").strip()
    began = time.perf_counter()
    result = train.run(start, candidates, mode)
    seconds = time.perf_counter() - began
    accepted = sorted(link.candidate.agent for link in result.accepted)
    tree = git(repo, "rev-parse", f"{result.tip}^{{tree}}").strip()
    return result, seconds, accepted, tree


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--branches", type=int, default=64)
    parser.add_argument("--culprits", type=int, default=2)
    parser.add_argument("--test-cost", type=float, default=0.1)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo, candidates, bad = make_repo(Path(tmp), args.branches, args.culprits, args.test_cost)
        print(f"{args.branches} branches, culprits {sorted(bad)}, test cost {args.test_cost}s")
        rows = {}
        for mode, slots in (("serial", 1), ("batch", 1), ("strict", args.slots)):
            rows[mode] = run_mode(repo, candidates, mode, slots, Path(tmp))
            result, seconds, accepted, _ = rows[mode]
            print(f"{mode:>6}: runs={result.runs:3d} rounds={result.rounds:3d} wall={seconds:6.2f}s "
                  f"accepted={len(accepted)} culprits={sorted(result.culprits)}")
        serial = rows["serial"]
        for mode in ("batch", "strict"):
            result, seconds, _, _ = rows[mode]
            print(f"{mode} vs serial: runs x{serial[0].runs / result.runs:.1f}, "
                  f"rounds x{serial[0].rounds / result.rounds:.1f}, wall x{serial[1] / seconds:.1f}")
        same_sets = rows["serial"][2] == rows["batch"][2] == rows["strict"][2]
        identical = same_sets and rows["serial"][3] == rows["batch"][3] == rows["strict"][3]
        culprits_found = all(sorted(r[0].culprits) == sorted(bad) for r in rows.values())
        print(f"accepted sets equal: {same_sets}; culprits found by every mode: {culprits_found}")
        print(f"RESULT merge_train branches={args.branches} culprits={args.culprits} "
              f"serial_runs={serial[0].runs} batch_runs={rows['batch'][0].runs} "
              f"strict_rounds={rows['strict'][0].rounds} identical={str(identical).lower()}")


if __name__ == "__main__":
    main()
