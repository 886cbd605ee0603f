"""Tier 3 of the retry ladder switches an agent to its fallback CLI, model or command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ruamel.yaml import YAML

from conftest import git
from test_engine import PLAN, dispatch, events, sprint_repo, write_value


def test_tier_three_runs_the_fallback_command(tmp_path: Path):
    stuck = {"default": write_value(1)}  # never right: VALUE must be 2
    rescue = tmp_path / "rescue.json"
    rescue.write_text(json.dumps({"default": write_value(2)}))
    repo = sprint_repo(tmp_path, {"alpha": stuck})
    yaml = YAML()
    plan = yaml.load(repo / PLAN)
    plan["agents"][0]["fallbacks"] = [{"tool": "command", "model": "bigger-model",
                                       "command": [sys.executable, "-m", "agent_dispatch.testing.scripted_agent",
                                                   str(rescue)]}]
    yaml.dump(plan, repo / PLAN)
    git(repo, "commit", "-qam", "plan: fallback")
    result = dispatch(repo, "run", str(repo / PLAN), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    log = events(repo)
    kinds = [e["data"]["kind"] for e in log if e["type"] == "message_queued" and e["agent"] == "alpha"]
    assert kinds == ["retry_1", "retry_2", "retry_3"]
    [fallback] = [e for e in log if e["type"] == "agent_fallback"]
    tier3 = next(e for e in log if e["type"] == "retry_scheduled" and e["data"]["tier"] == 3)
    assert fallback["seq"] < tier3["seq"] and fallback["data"]["model"] == "bigger-model"
    sessions = [e for e in log if e["type"] == "agent_session_started" and e["agent"] == "alpha"]
    assert [s["data"]["attempt"] for s in sessions] == [1, 2, 3, 4]
    assert str(rescue) in " ".join(sessions[-1]["data"]["argv"])
    assert sessions[-1]["data"]["model"] == "bigger-model"
    assert all(str(rescue) not in " ".join(s["data"]["argv"]) for s in sessions[:-1])
    assert git(repo, "show", "main:app/a.py").startswith("VALUE = 2\n")
