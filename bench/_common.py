"""Helpers shared by the benchmarks: a deterministic source-like repository, git, timing."""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@localhost",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@localhost", "GIT_CONFIG_NOSYSTEM": "1"}

_WORDS = ("def class return self value index count items result error config path name data "
          "request response handler store cache buffer stream token parse render update create "
          "delete fetch commit branch merge status report agent worker queue event state").split()


def git(repo: Path, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run git in ``repo`` (benchmarks time git itself, so this stays a thin wrapper)."""
    return subprocess.run(["git", *args], cwd=repo, check=check, capture_output=True, text=True, env=ENV,
                          input=input)


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` takes, after flushing dirty pages from earlier phases (not timed)."""
    os.sync()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _line_pool(rng: random.Random, size: int) -> list[str]:
    lines = []
    for _ in range(size):
        indent = "    " * rng.randint(0, 3)
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 9)))
        lines.append(f"{indent}{words}_{rng.randint(0, 999)}({rng.choice(_WORDS)}, {rng.randint(0, 99)})\n")
    return lines


def make_source_repo(path: Path, *, files: int = 4800, mean_kb: float = 10.0, seed: int = 1) -> Path:
    """A committed repository of ``files`` source-like text files (about ``mean_kb`` each, in about
    ``files/16`` directories), identical for the same arguments: the shape of a mid-size project
    (git/git has 4,847 files and 48 MB per checkout)."""
    rng = random.Random(seed)
    pool = _line_pool(rng, 20000)
    path.mkdir(parents=True)
    dirs = [f"pkg{d // 16:02d}/mod{d % 16:02d}" for d in range(max(1, files // 16))]
    for i in range(files):
        folder = path / dirs[i % len(dirs)]
        folder.mkdir(parents=True, exist_ok=True)
        n_lines = max(1, int(rng.expovariate(1 / (mean_kb * 1024 / 48))))
        (folder / f"file{i:05d}.py").write_text("".join(rng.choices(pool, k=n_lines)))
    (path / ".gitignore").write_text("__pycache__/\n*.o\nbuild/\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "source")
    git(path, "commit-graph", "write", "--reachable")
    return path


def du_mb(path: Path) -> float:
    """Disk use of ``path`` in MB (as `du` counts it)."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout.split()
    return int(out[0]) / 1024 if out else 0.0
