"""Conflict matrix benchmark: `dispatch conflicts` (one merge-tree --stdin process, touched-path
prefilter) against trial merges in a worktree, on branches with planted conflicts.

Repository: the deterministic ~4,800-file project of bench/_common.py. Branch design (as in the
reference measurements): every branch edits a private file (line 21 and an appended line); pairs
(2k, 2k+1) edit the same line of a shared file, so N/2 pairs conflict; every 4th branch edits one
common file at its own line (same file, clean merge).

Baseline: for each pair a trial merge in one worktree (`checkout --detach A` once per A, then
`merge --no-commit --no-ff B`, conflicted files from `diff --diff-filter=U`, `merge --abort`).
All pairs are tried for small N; above --baseline-pairs pairs, a fixed random sample (always
including every planted pair) is tried and the time is extrapolated per pair; the line before
RESULT says which. identical=true means: the matrix equals the planted conflicts on every pair
and equals the trial merges on every pair they tried.

Runs in RAM (``/dev/shm``) when there is room, like bench/worktrees.py, so the trial merges are
not slowed down by this VM's journal-less root filesystem; ``--dir`` chooses. Exits 1 when any
conflict set differs.

    python bench/conflicts.py [--branches 20,100] [--baseline-pairs 600] [--dir DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import git, make_source_repo  # noqa: E402

from agent_dispatch.workspace.conflicts import conflict_matrix  # noqa: E402

SHARED_LINES = 40


def plant(repo: Path, n: int, prefix: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """Create ``n`` branches with one fast-import stream; returns the expected conflicting pairs."""
    files = git(repo, "ls-files", "pkg*").stdout.split()
    main = git(repo, "rev-parse", "main").stdout.strip()
    stream, expected = [], {}
    common = [f"common line {i}\n" for i in range(4 * n + 4)]
    base_files = {f"{prefix}/common.txt": "".join(common)}
    for k in range(n // 2):
        base_files[f"{prefix}/pair{k:03d}.txt"] = "".join(f"pair {k} line {i}\n" for i in range(SHARED_LINES))
    stream.append(f"commit refs/heads/{prefix}-base\ncommitter b <b@localhost> 0 +0000\ndata 4\nbase\nfrom {main}\n")
    stream += [f"M 100644 inline {path}\ndata {len(text.encode())}\n{text}\n" for path, text in base_files.items()]
    for i in range(n):
        edits = {}
        private = files[(i * 37) % len(files)]
        lines = git(repo, "show", f"main:{private}").stdout.splitlines(keepends=True)
        if len(lines) > 21:
            lines[20] = f"# branch {i} was here\n"
        edits[private] = "".join(lines) + f"# appended by branch {i}\n"
        pair = base_files[f"{prefix}/pair{i // 2:03d}.txt"].splitlines(keepends=True)
        pair[10] = f"branch {i} says so\n"
        edits[f"{prefix}/pair{i // 2:03d}.txt"] = "".join(pair)
        if i % 4 == 0:
            mine = list(common)
            mine[4 * i + 2] = f"branch {i} edits its own common line\n"
            edits[f"{prefix}/common.txt"] = "".join(mine)
        stream.append(f"commit refs/heads/{prefix}/b{i:03d}\ncommitter b <b@localhost> 0 +0000\ndata 7\nbranch\n"
                      f"from refs/heads/{prefix}-base\n")
        stream += [f"M 100644 inline {path}\ndata {len(text.encode())}\n{text}\n" for path, text in edits.items()]
        if i % 2 == 1:
            expected[(f"{prefix}/b{i - 1:03d}", f"{prefix}/b{i:03d}")] = (f"{prefix}/pair{i // 2:03d}.txt",)
    git(repo, "fast-import", "--quiet", input="".join(stream))
    return expected


def trial_merges(repo: Path, worktree: Path, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, ...]]:
    found = {}
    current = None
    for a, b in sorted(pairs):
        if a != current:
            git(worktree, "checkout", "-q", "--detach", a)
            current = a
        merged = git(worktree, "merge", "-q", "--no-commit", "--no-ff", b, check=False)
        files = ()
        if merged.returncode:
            files = tuple(sorted(git(worktree, "diff", "--name-only", "--diff-filter=U").stdout.split()))
        git(worktree, "merge", "--abort", check=False)
        git(worktree, "reset", "-q", "--hard")
        found[(a, b)] = files
    return found


def run_size(repo: Path, n: int, sample: int) -> dict:
    prefix = f"c{n}"
    expected = plant(repo, n, prefix)
    branches = [f"{prefix}/b{i:03d}" for i in range(n)]
    all_pairs = list(combinations(branches, 2))
    git(repo, "commit-graph", "write", "--reachable")  # what `workspaces up` leaves behind
    started = time.perf_counter()
    matrix = conflict_matrix(str(repo), branches, base=f"{prefix}-base")
    ours = time.perf_counter() - started
    started = time.perf_counter()
    unfiltered = conflict_matrix(str(repo), branches, base=f"{prefix}-base", prefilter=False)
    no_prefilter = time.perf_counter() - started
    got = {(p.a, p.b): p.files for p in matrix.pairs}
    truth = {pair: expected.get(pair, ()) for pair in all_pairs}
    tried = all_pairs if len(all_pairs) <= sample else sorted(
        set(random.Random(n).sample(all_pairs, sample - len(expected))) | set(expected))
    worktree = repo.parent / f"trial-{n}"
    git(repo, "worktree", "add", "-q", "--detach", str(worktree), "main")
    started = time.perf_counter()
    trials = trial_merges(repo, worktree, tried)
    measured = time.perf_counter() - started
    baseline = measured * len(all_pairs) / len(tried)
    identical = (got == truth and {(p.a, p.b): p.files for p in unfiltered.pairs} == truth
                 and all(trials[pair] == got[pair] for pair in tried))
    return {"n": n, "pairs": len(all_pairs), "ours": ours, "no_prefilter": no_prefilter, "baseline": baseline,
            "measured": measured, "tried": len(tried), "identical": identical,
            "merged": sum(p.method == "merge-tree" for p in matrix.pairs), "conflicts": len(matrix.conflicts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--branches", default="20,100")
    parser.add_argument("--baseline-pairs", type=int, default=600, help="trial-merge at most this many pairs")
    parser.add_argument("--files", type=int, default=4800)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    shm = Path("/dev/shm")
    in_ram = shm.is_dir() and shutil.disk_usage(shm).free > 2 * 2**30
    work = Path(tempfile.mkdtemp(prefix="bench-conflicts-", dir=args.dir or (shm if in_ram else None)))
    try:
        repo = make_source_repo(work / "project", files=args.files)
        git(repo, "repack", "-adq")
        print(f"repository: {len(git(repo, 'ls-files').stdout.splitlines())} files, in {work}")
        results = [run_size(repo, int(n), args.baseline_pairs) for n in args.branches.split(",")]
        print(f"{'N':>4} {'pairs':>6} {'merged':>7} {'conflicts':>9} {'matrix s':>9} {'no prefilter s':>15} "
              f"{'trial merges s':>15} {'ms/pair trial':>14} {'ratio':>7}")
        for r in results:
            print(f"{r['n']:>4} {r['pairs']:>6} {r['merged']:>7} {r['conflicts']:>9} {r['ours']:>9.2f} "
                  f"{r['no_prefilter']:>15.2f} {r['baseline']:>15.1f} {1000 * r['measured'] / r['tried']:>14.1f} "
                  f"{r['baseline'] / r['ours']:>7.0f}")
        for r in results:
            how = "all pairs" if r["tried"] == r["pairs"] else (
                f"{r['tried']} of {r['pairs']} pairs in {r['measured']:.1f} s, extrapolated per pair")
            print(f"baseline for {r['n']} branches: trial merges on {how}")
        for r in results:
            print(f"RESULT conflicts branches={r['n']} seconds={r['ours']:.2f} baseline_seconds={r['baseline']:.1f} "
                  f"ratio={r['baseline'] / r['ours']:.0f} identical={'true' if r['identical'] else 'false'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not all(r["identical"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
