"""Chaos: kill -9 the orchestrator of the example sprint at seeded random points, resume, compare.

First one uninterrupted run of the example sprint (the one `dispatch demo` runs: the bundled bookshop
with scripted agents) gives the baseline: its exit code, its base branch's tree, its retry ladder and
how many events the engine recorded. Then ``--runs`` runs, each from a fresh copy of the prepared
repository: ``dispatch run`` is SIGKILLed at a seeded random point and ``dispatch resume`` continues it
(itself killed once more in some runs) until the sprint ends. A point is either the engine's n-th
event of any type (the engine's test-only crash hook, ``DISPATCH_TEST_KILL_AFTER=any:<n>``, n drawn
from the baseline's events, so the points cover setup, sessions, checks, gates, validation, the merge
train, landing and the finish) or ``os.kill(pid, SIGKILL)`` of the ``dispatch run`` process from
outside after a seeded random delay. Each point is printed before its run, a verdict after it.

A run is ok when, against the baseline: the base branch's tree is the same; every commit ever made
on an agent branch (the branches' reflogs, read after each kill and at the end, and the WIP commits
in the log) is reachable from the base or an agent branch; no message was delivered twice (one
``intervention_sent`` per message file, one session per agent and attempt); no retry tier was spent by
an interrupt (the same ``chain_failed`` / ``retry_scheduled`` rounds as the baseline); the sprint
ended as the baseline did (exit code, ``sprint_finished`` outcome).

    python bench/chaos.py [--runs 20] [--seed 13] [--jobs 2] [--keep]

Last line: ``RESULT chaos runs=N ok=K lost_commits=L duplicate_messages=D``; exit status 0 only when
every run is ok.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from agent_dispatch.commands.demo import PLAN, prepare_demo_repo
from agent_dispatch.engine.runtime import ANY_EVENT, KILL_AFTER_ENV
from agent_dispatch.store.events import Event
from agent_dispatch.store.log import EventLog

SPRINT = "sprint-01"
BASE = "main"
AGENT_REFS = f"refs/heads/{SPRINT}/"
STEP_TIMEOUT_S = 600.0  # one `dispatch run` / `dispatch resume`: longer is a hang
MAX_RESUMES = 5  # resumes after the planned kills: more means resume does not finish the sprint
TIMER_SHARE = 0.3  # share of the points that kill from outside after a delay
SECOND_KILL_SHARE = 0.25  # share of the runs whose first resume is killed too


@dataclass(frozen=True)
class Kill:
    """One SIGKILL of the orchestrator: after its ``value``-th event (``event``), or ``value``
    seconds after it started (``timer``)."""

    kind: str  # "event" | "timer"
    value: float

    def describe(self, baseline: list[Event] | None) -> str:
        if self.kind == "timer":
            return f"kill from outside after {self.value:.2f} s"
        n = int(self.value)
        named = f" ({baseline[n - 1].type})" if baseline is not None and n <= len(baseline) else ""
        return f"kill after event {n}{named}"


@dataclass
class Outcome:
    """What one sprint (baseline or chaos run) ended with."""

    code: int
    tree: str
    events: list[Event]
    commits: set[str] = field(default_factory=set)  # every commit seen on an agent branch
    kills: int = 0
    steps: list[str] = field(default_factory=list)  # how each process ended, for the verdict
    hung: bool = False


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def engine_events(events: list[Event]) -> list[Event]:
    """The events the engine recorded itself (what the crash hook counts): not the agents' claims
    ingested from their inboxes, not RED TEAM findings."""
    return [e for e in events if "claim" not in e.data and e.type != "finding"]


def agent_branch_commits(repo: Path) -> set[str]:
    """Every commit any agent branch has pointed to (their reflogs) and every one on them now."""
    refs = git(repo, "for-each-ref", "--format=%(refname)", AGENT_REFS).split()
    seen: set[str] = set()
    for ref in refs:
        seen |= set(git(repo, "log", "-g", "--format=%H", ref, "--").split())
    return seen


def reachable(repo: Path) -> set[str]:
    """Commits reachable from the base branch or an agent branch."""
    refs = git(repo, "for-each-ref", "--format=%(refname)", AGENT_REFS).split()
    return set(git(repo, "rev-list", BASE, *refs).split())


def step(repo: Path, verb: str, kill: Kill | None) -> tuple[int, bool]:
    """Run ``dispatch <verb>`` (run / resume) in ``repo``, killed as ``kill`` says; (exit code, hung)."""
    env = {k: v for k, v in os.environ.items() if k != KILL_AFTER_ENV}
    if kill is not None and kill.kind == "event":
        env[KILL_AFTER_ENV] = f"{ANY_EVENT}:{int(kill.value)}"
    argv = [sys.executable, "-m", "agent_dispatch", verb, str(PLAN), "--yes"]
    with open(repo.parent / "orchestrator.log", "a") as out:
        process = subprocess.Popen(argv, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
        if kill is not None and kill.kind == "timer":
            try:
                return process.wait(timeout=kill.value), False
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)  # the orchestrator only: its sessions live on
                return process.wait(), False
        try:
            return process.wait(timeout=STEP_TIMEOUT_S), False
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            return process.wait(), True


def sprint(repo: Path, kills: list[Kill]) -> Outcome:
    """Run the sprint in ``repo``: ``dispatch run``, then ``dispatch resume`` until it ends; the i-th
    process is killed as ``kills[i]`` says (none after the list)."""
    commits: set[str] = set()
    steps: list[str] = []
    killed = 0
    code, hung = 0, False
    for i in range(len(kills) + MAX_RESUMES + 1):
        kill = kills[i] if i < len(kills) else None
        code, hung = step(repo, "run" if i == 0 else "resume", kill)
        steps.append(f"{'run' if i == 0 else 'resume'}={code}")
        if hung or code != -signal.SIGKILL:
            break
        killed += 1
        time.sleep(0.3)  # sessions outlive the orchestrator: let one that is committing finish
        commits |= agent_branch_commits(repo)
    commits |= agent_branch_commits(repo)
    events = EventLog(repo / ".dispatch" / SPRINT / "events.db").read()
    commits |= {str(e.data["commit"]) for e in events if e.type == "wip_committed" and e.data.get("commit")}
    tree = git(repo, "rev-parse", f"{BASE}^{{tree}}").strip()
    return Outcome(code, tree, events, commits, killed, steps, hung)


def retry_rounds(events: list[Event]) -> Counter[tuple[str, str, str, object]]:
    """The retry ladder as recorded: one entry per chain_failed / retry_scheduled (agent, chain, tier)."""
    return Counter((e.type, e.agent or "", e.chain or "", e.data.get("tier"))
                   for e in events if e.type in ("chain_failed", "retry_scheduled"))


def duplicates(events: list[Event]) -> int:
    """Messages delivered more than once: a message file sent twice, or one attempt started twice."""
    sent = Counter(str(e.data.get("file")) for e in events if e.type == "intervention_sent")
    started = Counter((e.agent, e.data.get("attempt")) for e in events if e.type == "agent_session_started")
    return sum(n - 1 for n in sent.values() if n > 1) + sum(n - 1 for n in started.values() if n > 1)


def finished(events: list[Event]) -> str | None:
    last = next((e for e in reversed(events) if e.type == "sprint_finished"), None)
    return None if last is None else str(last.data.get("outcome"))


def judge(run: Outcome, baseline: Outcome, repo: Path) -> tuple[list[str], int, int]:
    """(what differs from the baseline, lost commits, duplicate messages) for one run."""
    problems = []
    if run.hung:
        problems.append(f"a step hung (> {STEP_TIMEOUT_S:.0f} s)")
    if run.code != baseline.code:
        problems.append(f"exit {run.code}, baseline {baseline.code}")
    if finished(run.events) != finished(baseline.events):
        problems.append(f"finished {finished(run.events)}, baseline {finished(baseline.events)}")
    if run.tree != baseline.tree:
        problems.append(f"{BASE} tree {run.tree[:12]}, baseline {baseline.tree[:12]}")
    lost = sorted(run.commits - reachable(repo))
    if lost:
        problems.append(f"lost commits {' '.join(c[:12] for c in lost)}")
    dup = duplicates(run.events)
    if dup:
        problems.append(f"{dup} message(s) delivered twice")
    if retry_rounds(run.events) != retry_rounds(baseline.events):
        extra = retry_rounds(run.events) - retry_rounds(baseline.events)
        missing = retry_rounds(baseline.events) - retry_rounds(run.events)
        problems.append(f"retry ladder differs: extra {dict(extra)}, missing {dict(missing)}")
    return problems, len(lost), dup


def draw_points(rng: random.Random, runs: int, events: int, seconds: float) -> list[list[Kill]]:
    """For each run, the kills of its processes in order: the first in ``dispatch run``, a second
    (in some runs) in its first resume."""
    points = []
    for _ in range(runs):
        first = draw_kill(rng, events, seconds)
        kills = [first]
        if rng.random() < SECOND_KILL_SHARE:
            # within what is left for the resume (about: it also repeats a little of the work)
            done = first.value / events if first.kind == "event" else first.value / seconds
            left = max(0.1, 1.0 - done)
            kills.append(draw_kill(rng, max(2, int(events * left)), seconds * left))
        points.append(kills)
    return points


def draw_kill(rng: random.Random, events: int, seconds: float) -> Kill:
    if rng.random() < TIMER_SHARE:
        return Kill("timer", round(rng.uniform(0.5, max(0.6, seconds * 0.9)), 2))
    return Kill("event", rng.randint(1, max(1, events - 1)))


def fresh_copy(template: Path, work: Path, name: str) -> Path:
    """A copy of the prepared repository in its own directory (the sprint's worktrees go next to it)."""
    repo = work / name / "bookshop"
    shutil.copytree(template, repo, symlinks=True)
    return repo


_print_lock = threading.Lock()


def say(line: str) -> None:
    """Print one whole line (runs in parallel print from their own threads)."""
    with _print_lock:
        print(line, flush=True)


@dataclass(frozen=True)
class Verdict:
    problems: list[str]
    lost: int
    duplicates: int


def chaos_run(i: int, total: int, kills: list[Kill], *, template: Path, work: Path, baseline: Outcome,
              counted: list[Event], keep: bool) -> Verdict:
    """One run from a fresh copy: print its point, run and resume it, print and return its verdict."""
    what = kills[0].describe(counted)
    if len(kills) > 1:
        what += ", then in the first resume " + kills[1].describe(None)
    say(f"run {i}/{total}: {what}")
    repo = fresh_copy(template, work, f"run-{i:02d}")
    t0 = time.monotonic()
    run = sprint(repo, kills)
    problems, lost, dup = judge(run, baseline, repo)
    verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
    where = f", kept in {repo}" if keep or problems else ""
    say(f"run {i}/{total}: {verdict} (killed {run.kills}x, {' '.join(run.steps)}, "
        f"{time.monotonic() - t0:.1f} s{where})")
    if not problems and not keep:
        shutil.rmtree(repo.parent, ignore_errors=True)
    return Verdict(problems, lost, dup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--jobs", type=int, default=2,
                        help="runs at a time (default 2: one sprint keeps about one core busy)")
    parser.add_argument("--keep", action="store_true", help="keep the runs' repositories (paths printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dispatch-chaos-"))
    started = time.monotonic()
    try:
        template = work / "template" / "bookshop"
        prepare_demo_repo(template)
        repo = fresh_copy(template, work, "baseline")
        t0 = time.monotonic()
        baseline = sprint(repo, [])
        seconds = time.monotonic() - t0
        counted = engine_events(baseline.events)
        say(f"baseline: exit {baseline.code}, {finished(baseline.events)}, {len(counted)} engine events, "
            f"{seconds:.1f} s, {BASE} tree {baseline.tree[:12]}")
        problems, lost, dup = judge(baseline, baseline, repo)
        if baseline.code != 0 or lost or dup:
            say(f"baseline is not a clean run: exit {baseline.code}, lost {lost}, duplicates {dup}")
            say(f"RESULT chaos runs={args.runs} ok=0 lost_commits={lost} duplicate_messages={dup}")
            return 1
        if not args.keep:
            shutil.rmtree(work / "baseline", ignore_errors=True)
        say(f"seed {args.seed}, {args.jobs} run(s) at a time")
        points = draw_points(random.Random(args.seed), args.runs, len(counted), seconds)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            verdicts = list(pool.map(
                lambda numbered: chaos_run(numbered[0], args.runs, numbered[1], template=template, work=work,
                                           baseline=baseline, counted=counted, keep=args.keep),
                enumerate(points, start=1)))
        ok = sum(not v.problems for v in verdicts)
        lost_total, dup_total = sum(v.lost for v in verdicts), sum(v.duplicates for v in verdicts)
        say(f"wall time {time.monotonic() - started:.0f} s")
        say(f"RESULT chaos runs={args.runs} ok={ok} lost_commits={lost_total} duplicate_messages={dup_total}")
        return 0 if ok == args.runs and not lost_total and not dup_total else 1
    finally:
        if not args.keep:
            # failed runs stay for a look; everything else goes
            shutil.rmtree(work / "template", ignore_errors=True)
            if not any(work.iterdir()):
                work.rmdir()


if __name__ == "__main__":
    raise SystemExit(main())
