"""Secrets hygiene with planted keys: API keys and tokens from the environment never reach events,
session logs, prompts, reports or the crash log, and each agent session gets only the environment
its adapter needs (agents/base.BASE_ENV_ALLOW + the adapter's ``env_allow``)."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import pytest

from agent_dispatch.agents.all_agents import get_adapter
from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.artifacts.summary import write_summary
from agent_dispatch.error_handler import Exit, error_handler
from agent_dispatch.executors.local import LocalExecutor
from agent_dispatch.redact import redact
from agent_dispatch.sessions.runner import run_session
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog

PLANTED = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-" + "A1b2C3d4" * 8,
    "OPENAI_API_KEY": "sk-proj-" + "Zy98Xw76" * 6,
    "GITHUB_TOKEN": "ghp_" + "0123456789abcdefghij0123456789abcdef",
    "ACME_SERVICE_KEY": "acme-live-7f3a9c2e1b5d",  # no known format: only its name marks it
    "DEPLOY_TOKEN": "dtok-91827364550a",
    "BILLING_SECRET": "billing-s3cr3t-xyz-42",
    "DB_PASSWORD": "correct-horse-battery-staple",
}


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("ACME_DEBUG", "1")  # not allowed for any session, not a secret either
    return PLANTED


def leaked(text: str) -> list[str]:
    return [name for name, value in PLANTED.items() if value in text]


def test_redact_replaces_planted_values_and_known_formats(planted: dict[str, str]):
    text = "\n".join(f"{name}={value}" for name, value in planted.items())
    clean = redact(text)
    assert leaked(clean) == []
    assert "ACME_SERVICE_KEY=[REDACTED:ACME_SERVICE_KEY]" in clean
    # Formats are caught with an empty environment too (a key the agent found on disk).
    assert leaked(redact(text, {})) == ["ACME_SERVICE_KEY", "DEPLOY_TOKEN", "BILLING_SECRET", "DB_PASSWORD"]
    for token in ("AKIAIOSFODNN7EXAMPLE", "xoxb-1234567890-abcdefghij", "AIza" + "x" * 35,
                  "-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----"):
        assert token not in redact(f"found {token} here", {})
    prose = "sk-learn is fine; the token budget is 1000; KEY=1"
    assert redact(prose, {"SHORT_KEY": "1"}) == prose


def test_events_never_store_a_planted_key(planted: dict[str, str], tmp_path: Path):
    with EventLog.for_sprint(tmp_path, "s1") as log:
        log.append(EventType.P0_DISCOVERED, agent="alpha",
                   data={"description": f"test printed {planted['OPENAI_API_KEY']}",
                         "output": [f"GITHUB_TOKEN={planted['GITHUB_TOKEN']}"]})
        stored = json.dumps([e.data for e in log.read()])
    assert leaked(stored) == []
    assert "[REDACTED:OPENAI_API_KEY]" in stored


def test_crash_log_and_error_line_are_redacted(planted: dict[str, str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["dispatch", "run", "--key", planted["DB_PASSWORD"]])
    with pytest.raises(Exit), error_handler():
        raise RuntimeError(f"request failed with key {planted['ANTHROPIC_API_KEY']}")
    crash = (tmp_path / "agent-dispatch-crash.log").read_text()
    assert "RuntimeError" in crash and leaked(crash) == []
    assert leaked(capsys.readouterr().err) == []


def test_reports_are_redacted(planted: dict[str, str], tmp_path: Path):
    path = write_summary(tmp_path, f"# Summary\n\nagent pasted {planted['BILLING_SECRET']}\n")
    assert leaked(path.read_text()) == [] and "[REDACTED:BILLING_SECRET]" in path.read_text()


def request(tmp_path: Path, argv: list[str] | None = None) -> SessionRequest:
    worktree = tmp_path / "work"
    worktree.mkdir(exist_ok=True)
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Do the work.\n")
    return SessionRequest(sprint="s1", agent="alpha", role="BACKEND", branch="s1/alpha", base_branch="main",
                          worktree=worktree, prompt_file=prompt, report_path="report.md", attempt=1,
                          command=tuple(argv or ["true"]), state_home=tmp_path / "home")


def test_each_adapter_gets_only_the_environment_it_needs(planted: dict[str, str], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    command = get_adapter("command").env(request(tmp_path))
    assert [name for name in PLANTED if name in command] == []
    assert "ACME_DEBUG" not in command
    assert command["LANG"] == "C.UTF-8" and "PATH" in command and command["DISPATCH_AGENT"] == "alpha"
    expected = {"claude": {"ANTHROPIC_API_KEY"}, "codex": {"OPENAI_API_KEY"}, "qwen": {"OPENAI_API_KEY"},
                "gemini": set(), "opencode": {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"},
                "aider": {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}}
    for tool, keys in expected.items():
        env = get_adapter(tool).env(request(tmp_path))
        assert {name for name in PLANTED if name in env} == keys, tool
    # The operator passes a variable on purpose.
    monkeypatch.setenv("DISPATCH_SESSION_ENV", "ACME_*")
    assert get_adapter("command").env(request(tmp_path))["ACME_SERVICE_KEY"] == planted["ACME_SERVICE_KEY"]


def test_a_session_log_is_scrubbed(planted: dict[str, str], tmp_path: Path):
    """A session that prints a key it found (here: given on its command line) and its whole
    environment: the log keeps neither the key nor any other planted secret."""
    script = f"import os; print('found', {planted['GITHUB_TOKEN']!r}); print(sorted(os.environ))"
    log_path = tmp_path / "logs" / "alpha-1.log"
    run = asyncio.run(run_session("command", request(tmp_path, [sys.executable, "-c", script]), LocalExecutor(),
                                  log_path=log_path, timeout_s=60))
    assert run.outcome.reason == "ended"
    text = log_path.read_text()
    assert "found [REDACTED" in text and leaked(text) == []
    assert "ACME_SERVICE_KEY" not in text and "DISPATCH_AGENT" in text
