"""Honest outcomes (issue 11): a landing that did not move the base is not a landing, the board
knows when no orchestrator runs, and every hint the tool prints runs as printed."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import git
from test_engine import PLAN, dispatch, events, sprint_repo, write_value

from agent_dispatch.engine import landing
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog

USER_EDIT = "VALUE = 99  # the user's own edit, not committed\n"


def user_edits(repo: Path, path: str) -> dict:
    """A script action that edits ``path`` in the main checkout, as its user would while the sprint runs
    (outside the agent's sandbox: its sprint needs ``sandbox="none"``)."""
    return {"write": str(repo / path), "content": USER_EDIT}


def test_lost_landing_stops_the_sprint_and_resume_lands_it(tmp_path: Path):
    repo = tmp_path / "proj"
    repo = sprint_repo(tmp_path, {"alpha": {"default": [user_edits(repo, "app/a.py"), *write_value(2)]}},
                       sandbox="none")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    out = result.stdout + result.stderr
    # Not SHIPPED, not exit 0: main did not move, so alpha did not land, and nothing ran on a base without it.
    assert result.returncode == 1, out
    assert git(repo, "show", "main:app/a.py") == "VALUE = 0\n"
    assert (repo / "app" / "a.py").read_text() == USER_EDIT  # the user's edit is never touched
    log = events(repo)
    failed = [e for e in log if e["type"] == "ref_updated" and e["data"]["new"] is None]
    assert failed and failed[0]["data"]["agents"] == ["alpha"] and failed[0]["data"]["blocking"] == ["app/a.py"]
    assert not failed[0]["data"]["validated"]
    assert not any(e["type"] == "sprint_finished" for e in log)
    assert not any(e["type"] == "agent_session_started" and e["agent"] == "beta" for e in log)
    assert "did not land" in out and "app/a.py" in out and f"dispatch resume {repo / PLAN}" in out
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert status["health"] == "RED" and status["finished"] is None
    # The fix the message names works: stash, resume; alpha lands, then beta runs on top of it.
    git(repo, "stash")
    resumed = dispatch(repo, "resume", str(repo / PLAN), "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")
    log = events(repo)
    assert log[-1]["type"] == "sprint_finished" and log[-1]["data"]["decision"] == "SHIPPED"
    assert log[-1]["data"]["not_landed"] == []


def test_lost_last_landing_is_not_shipped(tmp_path: Path):
    repo = tmp_path / "proj"
    beta = [user_edits(repo, "app/b.py"), {"write": "app/b.py", "content": "NAME = 'beta'\n"},
            {"commit": "beta"}, {"report": "COMPLETE"}, {"commit": "report"}]
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}, "beta": {"default": beta}}, sandbox="none")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "beta did not land" in result.stdout
    assert git(repo, "show", "main:app/b.py") == "NAME = 'b'\n"
    assert (repo / "app" / "b.py").read_text() == USER_EDIT
    assert not any(e["type"] == "sprint_finished" and e["data"].get("decision") == "SHIPPED" for e in events(repo))


def test_gate1_reports_a_dirty_checkout_of_the_base_before_anything_is_created(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": write_value(2)}})
    (repo / "app" / "a.py").write_text(USER_EDIT)
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gate 1" in result.stdout and "app/a.py" in result.stdout
    assert f"git -C {repo} stash && dispatch resume {repo / PLAN}" in result.stdout
    assert "dispatch override gate-1" in result.stdout
    assert not (repo.parent / "proj-sprint-01-alpha").exists()
    assert not any(e["type"] in ("agent_started", "agent_session_started") for e in events(repo))
    git(repo, "stash")
    dispatch(repo, "resume", str(repo / PLAN), "--yes", check=True)


def commit_file(repo: Path, text: str) -> str:
    """Commit ``text`` as file ``f`` on the checked-out branch; returns the commit."""
    (repo / "f").write_text(text)
    git(repo, "add", "f")
    git(repo, "commit", "-q", "-m", text.strip())
    return git(repo, "rev-parse", "HEAD").strip()


def test_ref_updated_is_validated_only_when_the_base_holds_the_validated_tree(tmp_path: Path):
    from conftest import make_repo

    repo = make_repo(tmp_path / "r")
    old = git(repo, "rev-parse", "main").strip()
    validated = commit_file(repo, "validated\n")
    other = commit_file(repo, "something else\n")
    git(repo, "reset", "-q", "--hard", old)
    recorded: list[tuple[EventType, dict]] = []
    assert landing.move_base(repo, "main", old, other, validated, lambda t, d: recorded.append((t, d)),
                             agents=["alpha"])
    assert recorded[-1][1]["new"] == other and recorded[-1][1]["validated"] is False
    assert landing.move_base(repo, "main", other, other, other, lambda t, d: recorded.append((t, d)), passed=True)
    assert recorded[-1][1]["validated"] is True
    # The same tree, but no validation run of that commit passed: not validated.
    assert landing.move_base(repo, "main", other, other, other, lambda t, d: recorded.append((t, d)))
    assert recorded[-1][1]["validated"] is False


def test_an_unvalidated_move_of_the_base_turns_the_health_red(tmp_path: Path):
    """The RED rule for an unvalidated ref can fire: a move whose commit no validation passed is
    recorded as unvalidated, and the status computed from the log says so."""
    from conftest import make_repo

    repo = make_repo(tmp_path / "r")
    old = git(repo, "rev-parse", "main").strip()
    new = commit_file(repo, "never validated\n")
    git(repo, "reset", "-q", "--hard", old)
    with EventLog(tmp_path / "log" / "events.db") as log:
        log.append("sprint_started", data={"agents": [{"name": "alpha", "role": "DATA"}], "waves": {"1": ["alpha"]},
                                            "chains": {"alpha": ["chain-1"]}})
        landing.move_base(repo, "main", old, new, new, lambda t, d: log.append(t, data=d), agents=["alpha"])
        status = log.status()
    assert status.health == "RED"
    assert "refs/heads/main moved to an unvalidated commit" in status.health_reasons



def _start_run_until_a_session_runs(repo: Path) -> subprocess.Popen:
    run = subprocess.Popen([sys.executable, "-m", "agent_dispatch", "run", str(repo / PLAN), "--yes"], cwd=repo,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = repo / ".dispatch" / "sprint-01" / "events.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            with EventLog(db) as log:
                if any(e.agent == "alpha" for e in log.read(types=["agent_session_started"])):
                    return run
        time.sleep(0.1)
    run.kill()
    raise AssertionError("no session started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_status_says_when_no_orchestrator_runs(tmp_path: Path, sig: signal.Signals):
    repo = sprint_repo(tmp_path, {"alpha": {"1": [{"sleep": 60}], "default": write_value(2)}})
    run = _start_run_until_a_session_runs(repo)
    live = json.loads(dispatch(repo, "status", "--json", check=True).stdout)["orchestrator"]
    assert live["running"] and live["pid"] == run.pid
    run.send_signal(sig)
    out, err = run.communicate(timeout=120)
    resume = f"dispatch resume {repo / PLAN}"
    if sig == signal.SIGINT:
        assert run.returncode == 130, out + err
        assert resume in err  # the run says how to continue
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    orchestrator = status["orchestrator"]
    assert not orchestrator["running"] and orchestrator["resume"] == resume
    assert orchestrator["state"] == ("interrupted" if sig == signal.SIGINT else "killed")
    assert status["health"] != "GREEN" and any("no orchestrator running" in r for r in status["health_reasons"])
    text = dispatch(repo, "status", check=True).stdout
    expected = "interrupted" if sig == signal.SIGINT else "killed or crashed"
    assert "Orchestrator: not running since" in text and expected in text and f"resume: {resume}\n" in text
    assert "▶ ACTIVE" not in text
    # The printed command continues the sprint to its end; the board then shows it finished.
    dispatch(repo, *resume.split()[1:], "--yes", check=True)
    done = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert done["finished"]["outcome"] == "complete" and done["orchestrator"]["state"] == "finished"


def test_status_after_a_failed_start_says_it_failed(tmp_path: Path):
    repo = sprint_repo(tmp_path, {}, extra={"sprint": {"id": "sprint-01", "theme": "engine test", "base_branch": "main",
                                                       "tool": "command", "build_command": "true",
                                                       "test_command": "true", "setup_command": "exit 7"}})
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode != 0
    status = json.loads(dispatch(repo, "status", "--json", check=True).stdout)
    assert status["finished"] is None and not status["orchestrator"]["running"]
    assert status["orchestrator"]["state"] in {"failed", "blocked"}
    assert "Orchestrator: not running since" in dispatch(repo, "status", check=True).stdout


def printed_hints(text: str) -> list[str]:
    """Every command the tool printed for the user to run: in backticks, or on a hint line."""
    hints = re.findall(r"`((?:dispatch|git) [^`]+)`", text)
    for line in text.splitlines():
        if "`" in line:
            continue
        for part in re.split(r"\s{3,}", line.strip()):
            match = re.match(r"(?:[\w ]+:\s+)?((?:dispatch|git) .+)$", part)
            if match:
                hints.append(match.group(1))
    return hints


def run_hint(repo: Path, hint: str) -> subprocess.CompletedProcess:
    """Run a printed hint exactly as printed (``a && b`` runs b when a succeeded), from the repository."""
    result = None
    for command in hint.split(" && "):
        argv = shlex.split(command)
        if argv[0] == "dispatch":
            argv = [sys.executable, "-m", "agent_dispatch", *argv[1:]]
        result = subprocess.run(argv, cwd=repo, capture_output=True, text=True, timeout=300)
        assert "Traceback" not in result.stderr, result.stderr
        assert "cannot tell which sprint" not in result.stderr, (hint, result.stderr)
        if result.returncode != 0:
            break
    assert result is not None
    return result


def test_every_printed_hint_runs_as_printed_with_two_sprints(tmp_path: Path):
    repo = sprint_repo(tmp_path, {"alpha": {"default": [{"exit": 0}]}})  # alpha fails gate 3: an override hint
    # A second sprint in the same repository, already started (it waits at gate 1).
    plan = YAML().load((repo / PLAN).read_text())
    plan["sprint"]["id"] = "sprint-02"
    second = repo / "docs/agent-dispatch/sprints/sprint-02/dispatch.yaml"
    second.parent.mkdir(parents=True)
    YAML().dump(plan, second)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second sprint")
    assert dispatch(repo, "run", str(second)).returncode == 4
    result = dispatch(repo, "run", str(repo / PLAN))
    assert "cannot tell which sprint" in dispatch(repo, "approve", "gate-1").stderr  # the hints must name it
    ran: list[str] = []
    for _ in range(12):  # follow the hints until the sprint finishes
        hints = [h for h in printed_hints(result.stdout + result.stderr) if h not in ran]
        assert hints or result.returncode in (0, 1), result.stdout + result.stderr
        if not hints:
            break
        for hint in hints:
            ran.append(hint)
            result = run_hint(repo, hint)
            assert result.returncode in (0, 1, 4), (hint, result.stdout + result.stderr)
    assert any(h.startswith("dispatch approve gate-1 --sprint sprint-01") for h in ran)
    assert any(h.startswith("dispatch override gate-2:wave-1") for h in ran)
    assert any(h.startswith("dispatch status") for h in ran)
    log = events_of(repo, "sprint-01")
    assert log[-1]["type"] == "sprint_finished"
    assert not any(e["type"] == "gate_approved" for e in events_of(repo, "sprint-02"))


def events_of(repo: Path, sprint: str) -> list[dict]:
    return json.loads(dispatch(repo, "events", "--json", "--sprint", sprint, check=True).stdout)
