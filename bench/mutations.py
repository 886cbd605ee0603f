"""Mutation check of the safety promises: break each one on purpose, and the tests that guard it must fail.

Each mutation is an exact text replacement in one source file that must match exactly once (the
bench stops with exit 2 when one no longer matches: update it with the code). It is applied to a
fresh temporary copy of the source tree, and only its guard tests run, against that copy:

- pytest runs with PYTHONPATH at the copy's ``src``;
- the territory hooks run ``python -I`` (no PYTHONPATH), so the tests run under a throwaway virtual
  environment (``--without-pip``, nothing installed anywhere) whose site-packages holds one ``.pth``
  file: the copy's ``src`` first, then this interpreter's site-packages for the dependencies. Every
  ``sys.executable`` a test starts — ``dispatch``, scripted agents, the hooks — imports the copy.

A mutation is *caught* when its guard tests fail (pytest exit 1); exit 0 means it SURVIVED, and any
other exit (no tests collected, usage error, a timeout) stops the bench as broken. Output: one line
per mutation (name, caught/SURVIVED, guard tests, seconds), then ``RESULT mutations total=N caught=C``;
exit 1 when C < N. The long check of CI (`.ci/run`); about 5-8 minutes on two cores.

    python bench/mutations.py                 # all of them
    python bench/mutations.py --list          # names and guards only
    python bench/mutations.py NAME [NAME ...] # a few
    python bench/mutations.py --baseline      # the guards pass on the unmutated copy
"""

from __future__ import annotations

import argparse
import os
import shutil
import site
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".mypy_cache", ".hypothesis", ".pytest_cache",
                                     "*.egg-info", ".dispatch", "build", "dist")
GUARD_TIMEOUT = 420  # seconds for one mutation's guard tests


@dataclass(frozen=True)
class Mutation:
    """One deliberate break of a promise: replace ``old`` by ``new`` in ``path`` (exactly once)."""

    name: str
    promise: str  # what the README / docs promise, that this breaks
    path: str  # relative to the repository root
    old: str
    new: str
    guards: tuple[str, ...]  # pytest node ids that must fail


MUTATIONS: tuple[Mutation, ...] = (
    # -- issue 20, defect 1: the base branch never points at an unvalidated commit ----------------
    Mutation(
        "base_detours_to_unvalidated_commit",
        "the base branch only ever points at validated commits (checked against its reflog)",
        "src/agent_dispatch/engine/landing.py",
        '    ref = f"refs/heads/{base_branch}"\n    checkout = git.worktree_of_branch(root, base_branch)\n',
        '    ref = f"refs/heads/{base_branch}"\n'
        '    detour = git.commit_tree(root, git.tree_of(root, old), [old], "not validated")\n'
        '    git.update_ref(root, ref, detour, old)\n    git.update_ref(root, ref, old, detour)\n'
        '    checkout = git.worktree_of_branch(root, base_branch)\n',
        ("tests/test_merge_train.py::test_shared_dependency_file_conflict_resolved_additively",),
    ),
    Mutation(
        "ref_updated_claims_validated",
        "ref_updated says validated only for a commit whose own validation passed; RED otherwise",
        "src/agent_dispatch/engine/landing.py",
        "    ok = passed and moved_to == new and",
        "    ok = moved_to == new and",
        ("tests/test_outcomes.py::test_ref_updated_is_validated_only_when_the_base_holds_the_validated_tree",
         "tests/test_outcomes.py::test_an_unvalidated_move_of_the_base_turns_the_health_red"),
    ),
    # -- defect 2: retry messages carry the exact error output ------------------------------------
    Mutation(
        "check_output_cut_to_last_line",
        "retry messages carry the check's exact error output",
        "src/agent_dispatch/checkrun.py",
        "    if not result.ok and not output:",
        "    output = output.splitlines()[-1] if output else output\n    if not result.ok and not output:",
        ("tests/test_engine.py::test_retry_message_carries_a_long_output_with_its_marked_truncation",),
    ),
    # -- defect 3: the crash path keeps uncommitted work as a WIP commit --------------------------
    # Guarded today by the interrupted-session test; retarget to tests/test_kill_points.py when it lands.
    Mutation(
        "crash_path_drops_uncommitted_work",
        "an agent that dies with uncommitted work gets it back as a WIP commit",
        "src/agent_dispatch/engine/agent_loop.py",
        "    wip = git.commit_all(worktree, WIP_SUBJECT)\n",
        "    git.reset_hard(worktree)  # thrown away\n    wip = None\n",
        ("tests/test_engine.py::test_interrupted_session_is_recovered_not_retried",
         "tests/test_agent_death.py"),
    ),
    # -- defect 5: a field silently dropped on load ------------------------------------------------
    Mutation(
        "plan_field_dropped_on_load",
        "a plan loads with every field it was written with",
        "src/agent_dispatch/plan/model.py",
        "    hypothesis: str | None = None\n",
        "",
        ("tests/test_plan_properties.py::test_valid_plans_round_trip",),
    ),
    # -- the eight the audit found caught ----------------------------------------------------------
    Mutation(
        "denied_tool_ignored",
        "a session with a denied tool fails, whatever the CLI's exit status",
        "src/agent_dispatch/agents/events.py",
        "        if self.denied_tools:\n            return",
        "        if False and self.denied_tools:\n            return",
        ("tests/test_adapters_claude_codex_qwen.py::test_claude_parse_hook_denial_fails_although_exit_0",
         "tests/test_adapters_claude_codex_qwen.py::test_qwen_parse_denial_fails_although_exit_0"),
    ),
    Mutation(
        "exit_0_trusted",
        "exit 0 is not success: the session's own stream decides",
        "src/agent_dispatch/agents/cli.py",
        "        reason = summary.failure_reason()\n",
        "        reason = summary.failure_reason() if exit_code != 0 else None\n",
        ("tests/test_adapters_claude_codex_qwen.py::test_qwen_parse_api_error_text_fails_although_exit_0",),
    ),
    Mutation(
        "owner_left_out_of_refusal",
        "a refused commit names the owner of the files, so the agent can report what they should change",
        "src/agent_dispatch/ownership.py",
        "        return f\"{f'owned by {self.owner}' if self.owner else 'no owner'}; {self.reason}\"",
        "        return f\"no owner; {self.reason}\"",
        ("tests/test_territory_hooks.py::test_a_commit_outside_territory_is_refused_with_the_owner",),
    ),
    Mutation(
        "hook_exits_0",
        "the pre-commit hook refuses a commit outside the territory",
        "src/agent_dispatch/workspace/hook_entry.py",
        '[v.path for v in violations], message.splitlines()[0])\n        return 1\n',
        '[v.path for v in violations], message.splitlines()[0])\n        return 0\n',
        ("tests/test_territory_hooks.py::test_a_commit_outside_territory_is_refused_with_the_owner",),
    ),
    Mutation(
        "validation_always_ok",
        "the merge train lands only what its build and test passed",
        "src/agent_dispatch/merge/validation.py",
        "        return Validation(commit, len(checks) == 2 and all(c.ok for c in checks), tuple(checks))",
        "        return Validation(commit, True, tuple(checks))",
        ("tests/test_merge_train.py::test_train_modes_find_the_same_culprits",),
    ),
    Mutation(
        "culprit_landed",
        "the branch that breaks the build is returned to its agent, not landed",
        "src/agent_dispatch/merge/train.py",
        "            self._accept(links[: bad])\n",
        "            self._accept(links[: bad + 1])\n",
        ("tests/test_merge_train.py::test_train_modes_find_the_same_culprits[batch-1]",),  # bisection
    ),
    Mutation(
        "error_history_dropped",
        "retry tiers 2 and 3 show every earlier attempt's error",
        "src/agent_dispatch/engine/agent_loop.py",
        '        history = [{"attempt": r["attempt"], "failures": r["failures"]} for r in earlier]\n',
        "        history = []\n",
        ("tests/test_engine.py::test_waves_retry_ladder_and_landing",),
    ),
    Mutation(
        "surviving_session_reset",
        "a session that survives a controller restart is re-adopted, not given up",
        "src/agent_dispatch/executors/local.py",
        "        if not procfs.is_running(record.pid, record.start_time):\n            self._finish(handle)\n",
        "        self._finish(handle)\n",
        ("tests/test_executor_local.py::test_adopt_running_session_after_controller_restart",),
    ),
)


def apply(source: str, mutation: Mutation) -> str:
    """``source`` with the mutation applied; raises ValueError unless ``old`` occurs exactly once."""
    count = source.count(mutation.old)
    if count != 1:
        raise ValueError(f"mutation {mutation.name}: the text to replace occurs {count} times in "
                         f"{mutation.path} (expected once): update bench/mutations.py")
    return source.replace(mutation.old, mutation.new)


def interpreter(workdir: Path, src: Path) -> Path:
    """A throwaway virtual environment whose every start (``-I`` included) imports ``src`` first,
    the dependencies from this interpreter's site-packages after it."""
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # Plain paths: the editable install's own .pth (pointing at the real tree) is not processed here.
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "mutation-under-test.pth").write_text("\n".join([str(src), *deps]) + "\n")
    return python


def run_one(mutation: Mutation, workdir: Path, *, mutate: bool = True) -> tuple[bool, float]:
    """Apply ``mutation`` to a fresh copy of the tree (unless not ``mutate``: the baseline) and
    run its guards; (guards failed, seconds)."""
    copy = workdir / mutation.name
    shutil.copytree(ROOT, copy, ignore=COPY_IGNORE)
    target = copy / mutation.path
    if mutate:
        target.write_text(apply(target.read_text(), mutation))
    python = interpreter(copy, copy / "src")
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "PYTHONDONTWRITEBYTECODE": "1",
           "HYPOTHESIS_PROFILE": "mutation"}  # tests/conftest.py: fixed seed, no shrinking
    started = time.monotonic()
    try:
        done = subprocess.run([str(python), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not realcli",
                               *mutation.guards], cwd=copy, env=env, capture_output=True, text=True,
                              timeout=GUARD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"mutation {mutation.name}: guard tests ran over {GUARD_TIMEOUT}s") from None
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"mutation {mutation.name}: pytest exit {done.returncode} (not a test failure):\n"
                         f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    shutil.rmtree(copy, ignore_errors=True)
    return done.returncode == 1, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="print the mutations and their guards")
    parser.add_argument("--baseline", action="store_true",
                        help="run the guards on the unmutated copy instead: each must pass")
    args = parser.parse_args(argv)
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutation(s): {', '.join(sorted(unknown))}")
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    for mutation in chosen:  # every replacement must still match before anything runs
        try:
            apply((ROOT / mutation.path).read_text(), mutation)
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.promise}\n  {m.path}\n  guards: {' '.join(m.guards)}")
        return 0
    if args.baseline:  # guards that fail without a mutation would count every mutation as caught
        with tempfile.TemporaryDirectory(prefix="dispatch-mutations-") as tmp:
            failing = [m.name for m in chosen if run_one(m, Path(tmp), mutate=False)[0]]
        print(f"RESULT baseline total={len(chosen)} failing={len(failing)} {' '.join(failing)}".rstrip())
        return 1 if failing else 0
    caught = 0
    with tempfile.TemporaryDirectory(prefix="dispatch-mutations-") as tmp:
        for mutation in chosen:
            was_caught, seconds = run_one(mutation, Path(tmp))
            caught += was_caught
            guards = ",".join(g.split("::")[-1] for g in mutation.guards)
            print(f"{mutation.name:<36} {'caught' if was_caught else 'SURVIVED':<8} {guards}  {seconds:.1f}s",
                  flush=True)
    print(f"RESULT mutations total={len(chosen)} caught={caught}")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
