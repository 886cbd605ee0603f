"""Worktree creation benchmark: `dispatch workspaces up` against the seed's loop, plus the pool.

On a deterministic ~4,800-file, ~48 MB repository (bench/_common.py), for each size N:

* baseline: the seed's sequential loop, ``git branch <b> main && git worktree add <dir> <b>``;
* dispatch: ``worktrees.bring_up`` as ``dispatch workspaces up`` runs it (parallel, with the
  territory and ref guards and the Claude Code settings installed in every worktree; new
  worktrees copied from a template checkout when enough of them share the base commit, the
  template built inside the timed run);
* --no-copy: the same, every worktree checked out by git (``read-tree -u``);
* recycle: each dispatch worktree gets agent work (3 files changed and 20 added, committed;
  2 uncommitted edits; 370 ignored build outputs), is parked with ``take_down``, and N new agents
  are brought up from the pool;
* floor: ``tar -x`` of the checkout from a tarball in RAM, N times (file creation, no git).

Where: by default in RAM (``/dev/shm``, when it has room), else the system temp directory;
``--dir`` chooses. A checkout is CPU-bound on ordinary filesystems (journaled ext4 and tmpfs give
the same times in docs/workspaces.md), but this kind of VM often has an ext4 *without* a journal,
where creating files right after a mass delete is several times slower and very noisy. On tmpfs
each phase's worktrees are deleted once measured (to bound memory); elsewhere nothing is deleted
between phases. The last lines are one RESULT line per size.

Each size runs ``--trials`` times (default 3) and every time reported is the median.

    python bench/worktrees.py [--sizes 10,40] [--files 4800] [--jobs N] [--trials 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import du_mb, git, make_source_repo, timed  # noqa: E402

from agent_dispatch.workspace import guard, hooks, worktrees  # noqa: E402
from agent_dispatch.workspace.layout import AgentSpace  # noqa: E402
from agent_dispatch.workspace.rules import Claim, TerritoryRules  # noqa: E402


def seed_loop(repo: Path, folder: Path, n: int, sprint: str) -> None:
    folder.mkdir()
    for i in range(n):
        git(repo, "branch", f"{sprint}/agent{i:02d}", "main")
        git(repo, "worktree", "add", "-q", str(folder / f"agent{i:02d}"), f"{sprint}/agent{i:02d}")


def spaces(folder: Path, n: int, sprint: str) -> list[AgentSpace]:
    return [AgentSpace(f"agent{i:02d}", f"{sprint}/agent{i:02d}", folder / f"{sprint}-agent{i:02d}") for i in range(n)]


def installer(repo: Path, sprint: str, n: int):
    token, original, excludes = guard.repo_token(repo), worktrees_hooks_dir(repo), hooks.global_excludes(repo)
    claims = tuple(Claim(f"agent{i:02d}", (f"pkg{i % 19:02d}/",)) for i in range(n))

    def install(space: AgentSpace) -> list[str]:
        own = next(c for c in claims if c.name == space.agent)
        rules = TerritoryRules(sprint=sprint, agent=space.agent, branch=space.branch, own=own, claimants=claims,
                               allowed=(f"docs/agent-dispatch/sprints/{sprint}/agent-{space.agent}-completion.md",),
                               worktree=str(space.worktree))
        spec = hooks.GuardSpec(rules=rules, plan_path=repo / "dispatch.yaml", token=token, original_hooks=original,
                               claude=True, global_excludes=excludes)
        return hooks.install(space.worktree, spec)

    return install


def worktrees_hooks_dir(repo: Path) -> Path:
    from agent_dispatch import git as gitlib

    return gitlib.hooks_dir(repo)


def bring_up(repo: Path, items: list[AgentSpace], sprint: str, jobs: int | None, copy: bool | None = None) -> None:
    outcomes = worktrees.bring_up(repo, items, base="main", jobs=jobs, copy=copy,
                                  install=installer(repo, sprint, len(items)))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"bring_up failed: {failed[0].agent}: {failed[0].error}")


def agent_work(worktree: Path) -> None:
    """What an agent leaves behind: committed edits and new files, uncommitted edits, build outputs."""
    files = sorted((worktree / "pkg00").rglob("*.py"))[:5]
    for f in files[:3]:
        f.write_text(f.read_text() + "# changed by the agent\n")
    for i in range(20):
        (worktree / "pkg00" / f"new{i:02d}.py").write_text(f"new file {i}\n" * 50)
    git(worktree, "add", "-A")
    git(worktree, "commit", "-q", "--no-verify", "-m", "agent work")
    for f in files[3:5]:
        f.write_text(f.read_text() + "# not committed\n")
    build = worktree / "build"
    build.mkdir()
    for i in range(370):
        (build / f"obj{i:03d}.o").write_bytes(b"\0" * 2048)


def check_clean(items: list[AgentSpace]) -> None:
    for space in items[:: max(1, len(items) // 5)]:
        status = git(space.worktree, "status", "--porcelain", "--untracked-files=all").stdout
        branch = git(space.worktree, "branch", "--show-current").stdout.strip()
        if status or branch != space.branch:
            raise SystemExit(f"{space.worktree} is not a clean checkout of {space.branch}: {status[:200]}")


def tar_floor(repo: Path, folder: Path, n: int) -> float:
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    tarball = shm / f"bench-worktrees-{id(folder)}.tar"
    with tarball.open("wb") as out:
        subprocess.run(["git", "archive", "main"], cwd=repo, stdout=out, check=True)
    folder.mkdir()

    def extract() -> None:
        for i in range(n):
            (folder / f"t{i:02d}").mkdir()
            subprocess.run(["tar", "-xf", str(tarball), "-C", str(folder / f"t{i:02d}")], check=True)

    try:
        return timed(extract)
    finally:
        tarball.unlink()


def discard(repo: Path, folder: Path, *, enabled: bool) -> None:
    """Delete a measured phase's worktrees (only where deleting does not slow later phases)."""
    if enabled:
        shutil.rmtree(folder)
        git(repo, "worktree", "prune")


def run_size(repo: Path, work: Path, n: int, jobs: int | None, *, in_ram: bool, trial: int = 0) -> dict:
    base = work / f"n{n}-{trial}"
    base.mkdir()
    tag = f"{n}t{trial}"  # branch names per trial: trials never collide
    baseline = timed(lambda: seed_loop(repo, base / "seed", n, f"seed{tag}"))
    disk_mb = du_mb(base / "seed") / n
    discard(repo, base / "seed", enabled=in_ram)
    ours_items = spaces(base / "dispatch", n, f"s{tag}")
    (base / "dispatch").mkdir()
    ours = timed(lambda: bring_up(repo, ours_items, f"s{tag}", jobs))
    check_clean(ours_items)
    checkout_items = spaces(base / "checkout", n, f"k{tag}")
    (base / "checkout").mkdir()
    checkout = timed(lambda: bring_up(repo, checkout_items, f"k{tag}", jobs, copy=False))
    check_clean(checkout_items)
    discard(repo, base / "checkout", enabled=in_ram)
    floor = tar_floor(repo, base / "tar", n)
    discard(repo, base / "tar", enabled=in_ram)
    for space in ours_items:
        agent_work(space.worktree)
    parked = worktrees.take_down(repo, ours_items, force=True)
    assert all(o.action == "parked" for o in parked), parked[0]
    next_items = spaces(base / "dispatch", n, f"r{tag}")
    recycle = timed(lambda: bring_up(repo, next_items, f"r{tag}", jobs))
    check_clean(next_items)
    result = {"n": n, "baseline": baseline, "ours": ours, "checkout": checkout, "recycle": recycle, "floor": floor,
              "disk_mb": disk_mb}
    discard(repo, base, enabled=in_ram)
    return result


def measure(repo: Path, work: Path, n: int, jobs: int | None, *, in_ram: bool, trials: int) -> dict:
    """:func:`run_size` ``trials`` times; the median of every time."""
    runs = [run_size(repo, work, n, jobs, in_ram=in_ram, trial=t) for t in range(trials)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def default_dir(sizes: list[int], files: int) -> Path | None:
    """``/dev/shm`` when it can hold two phases of the largest size (about 14 KB per file), else
    None (the system temp directory)."""
    shm = Path("/dev/shm")
    needed = 2.2 * max(sizes) * files * 14_000
    return shm if shm.is_dir() and shutil.disk_usage(shm).free > needed else None


def filesystem(path: Path) -> str:
    """The filesystem type of ``path`` as `stat -f` names it (``tmpfs``, ``ext2/ext3``...)."""
    out = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,40")
    parser.add_argument("--files", type=int, default=4800)
    parser.add_argument("--jobs", type=int, default=None, help="parallel processes (default: the tool's)")
    parser.add_argument("--trials", type=int, default=3, help="repeat each size; report medians (this VM is shared)")
    parser.add_argument("--dir", type=Path, default=None, help="where to work (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the repositories and worktrees")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-worktrees-", dir=args.dir or default_dir(sizes, args.files)))
    in_ram = filesystem(work) == "tmpfs"
    try:
        repo = make_source_repo(work / "project", files=args.files)
        git(repo, "repack", "-adq")
        files = len(git(repo, "ls-files").stdout.splitlines())
        print(f"repository: {files} files, jobs={args.jobs or worktrees.default_jobs()}, in {work} "
              f"({filesystem(work)}), cores={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, "
              f"median of {args.trials} trial(s)")
        results = [measure(repo, work, n, args.jobs, in_ram=in_ram, trials=args.trials) for n in sizes]
        print(f"{'N':>4} {'seed loop s':>12} {'dispatch s':>11} {'ratio':>6} {'--no-copy s':>12} {'ratio':>6} "
              f"{'recycle s':>10} {'ratio':>6} {'tar -x floor s':>15} {'s/wt seed':>10} {'s/wt ours':>10} {'MB/wt':>6}")
        for r in results:
            print(f"{r['n']:>4} {r['baseline']:>12.2f} {r['ours']:>11.2f} {r['baseline'] / r['ours']:>6.2f} "
                  f"{r['checkout']:>12.2f} {r['baseline'] / r['checkout']:>6.2f} "
                  f"{r['recycle']:>10.2f} {r['baseline'] / r['recycle']:>6.2f} {r['floor']:>15.2f} "
                  f"{r['baseline'] / r['n']:>10.3f} {r['ours'] / r['n']:>10.3f} {r['disk_mb']:>6.1f}")
        for r in results:
            print(f"RESULT worktrees n={r['n']} seconds={r['ours']:.2f} baseline_seconds={r['baseline']:.2f} "
                  f"ratio={r['baseline'] / r['ours']:.2f} recycle_seconds={r['recycle']:.2f} "
                  f"recycle_ratio={r['baseline'] / r['recycle']:.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
