"""Aider (``aider-chat``, verified with 0.86.2) run headless.

    aider --message-file F | --message=TEXT  --yes-always ...quiet flags...
          --analytics-log /dev/stdout  --chat-history-file HOME/... [--restore-chat-history]
          [--test-cmd=<sprint test_command> --auto-test]

Aider has no JSON output, no session ids and no tools: it does one exchange per ``--message``,
applies the edit blocks of the reply, auto-commits them, and exits (0 even when the model API
failed). So success is read from the one structured record it keeps, its analytics event log:

* ``--analytics-log FILE`` is written even with ``--analytics-disable`` (that switch only stops
  sending events; ``Analytics.event`` still appends to the log file), one JSON object a line:
  ``launched``, ``message_send_starting``, ``message_send{prompt_tokens, completion_tokens,
  cost, total_cost}`` for each model reply, ``message_send_exception{exception}``, and
  ``exit{reason}`` ("Completed --message" / "Completed --message-file" on a normal end).
* A model call that failed on an API error (litellm exception) logs ``message_send_starting``
  and no ``message_send``: that is how an API error shows, whatever the exit status.
* The log goes to ``/dev/stdout``, i.e. into the session log next to aider's terminal text, not
  into a file in the home: each session's records are then in its own log (no stale records
  from an earlier session, no need to know the home when the outcome is read), and the base
  ``outcome`` reads it like every other CLI's stream. Records are found by their ``{"event":``
  start even when terminal text shares their line. This needs the session log opened for
  appending (the local executor opens it "ab"): aider's stdout and its re-opened /dev/stdout
  then both write at the end of the file instead of over each other.

The terminal text is never used to decide anything (only the error message of a failed model
call is quoted from it, for the detail line).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from agent_dispatch import git
from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.agents.cli import CLIAdapter, api_v1, key_to_set
from agent_dispatch.agents.events import AgentEvent, Kind
from agent_dispatch.errors import FatalError

# Aider has no session ids; resuming means replaying the chat history kept in the agent's home.
# A fixed id lets the engine's "resume the same session" path work unchanged.
SESSION_ID = "aider-history"
# The quiet, non-interactive switches plus: no URL
# scraping of prompts (network), no shell-command suggestions (headless aider never runs them),
# no .gitignore edits, no commit of pre-existing dirty files before the agent's own edit.
QUIET_FLAGS = ("--yes-always", "--no-pretty", "--no-fancy-input", "--no-check-update",
               "--analytics-disable", "--no-show-release-notes", "--no-show-model-warnings",
               "--no-gitignore", "--no-dirty-commits", "--no-detect-urls",
               "--no-suggest-shell-commands")
# Where the analytics event log goes: the session log (see the module docstring).
ANALYTICS_LOG = "/dev/stdout"
_EVENT_START = re.compile(r'\{"event":\s*"')
_API_ERROR_LINE = re.compile(r"^\s*(litellm\.\w+Error:.*)$", re.MULTILINE)
# Aider refreshes the model-price cache from GitHub when it is older than this (its CACHE_TTL is
# 24 h); we keep ours younger so a long sprint never triggers the download.
PRICE_CACHE_MAX_AGE_S = 12 * 3600
# At most this many already-changed files go into a follow-up's chat (each costs its full text).
MAX_CHAT_FILES = 30
# The repo-map cache aider keeps in the worktree root; kept out of the agent's commits.
TAGS_CACHE_EXCLUDE = "/.aider.tags.cache.v*/"


class AiderAdapter(CLIAdapter):
    """Aider: edit-only (it cannot run shell commands headless), one exchange per session."""

    name = "aider"
    # its keys (litellm reads each provider's own), endpoint and settings
    env_allow = ("AIDER_*", "OPENAI_*", "ANTHROPIC_*", "GEMINI_*", "OPENROUTER_*", "DEEPSEEK_*", "LITELLM_*")
    binary = "aider"

    def history_dir(self, home: Path) -> Path:
        return home / "aider"

    def cli_argv(self, exe: str, request: SessionRequest) -> list[str]:
        """Start or (with the chat history replayed) continue the agent's conversation."""
        home = self.home(request)
        hist = self.history_dir(home)
        argv = [exe, *QUIET_FLAGS, f"--analytics-log={ANALYTICS_LOG}",
                f"--chat-history-file={hist / 'chat.history.md'}",
                f"--input-history-file={hist / 'input.history'}",
                f"--llm-history-file={hist / 'llm.history.txt'}"]
        model = self.model_name(request)
        if model:
            argv.append(f"--model={model}")
        if request.base_url:
            argv.append(f"--openai-api-base={api_v1(request.base_url)}")
        if request.test_command:
            # Aider cannot run shell commands headless; this is how it sees test failures: after
            # each edit it runs the command and sends a failing output back to the model (up to 3
            # times). The engine still runs the tests itself after the session.
            argv += [f"--test-cmd={request.test_command}", "--auto-test"]
        # Message files where one exists (no argv length limit); "--opt=value" for inline text so
        # a text starting with "-" is not read as an option.
        if request.resuming:
            argv += ["--restore-chat-history", f"--message-file={request.message_file}"]
            argv += [f"--file={path}" for path in self.chat_files(request)]
        elif request.message_file is None:
            argv.append(f"--message-file={request.prompt_file}")
        else:
            argv.append(f"--message={request.initial_text()}")
        return argv

    def chat_files(self, request: SessionRequest) -> list[str]:
        """The files the agent has changed on its branch so far (committed or not), for a
        follow-up. Why: the restored history holds the messages but not which files were in the
        chat; without them aider answers an edit to such a file by asking to add it and sending
        the request again (one more model call, and a reply that may differ)."""
        try:
            changed = git.changed_files(request.worktree, request.base_branch, "HEAD")
            paths = [p for status, p in changed if status != "D"]
            paths += git.uncommitted_files(request.worktree)
        except (FatalError, OSError):
            return []
        existing = [p for p in dict.fromkeys(paths) if (request.worktree / p).is_file()]
        return existing[:MAX_CHAT_FILES]

    def model_name(self, request: SessionRequest) -> str | None:
        """With an endpoint: litellm's ``openai/`` prefix, so the OpenAI client talks to it."""
        if request.model and request.base_url and not request.model.startswith("openai/"):
            return f"openai/{request.model}"
        return request.model

    def cli_env(self, request: SessionRequest, home: Path) -> dict[str, str]:
        """Endpoint and key (the user's OPENAI_API_KEY passes through when none is given)."""
        # PYTHONUNBUFFERED: terminal text in whole lines next to the analytics records.
        # LITELLM_LOCAL_MODEL_COST_MAP: litellm itself fetches its price map from GitHub at import
        # (raw.githubusercontent.com, seen in a DNS log) unless told to use its bundled copy.
        env = {"PYTHONUNBUFFERED": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        if request.base_url:
            env["OPENAI_API_BASE"] = api_v1(request.base_url)
        key = key_to_set(request, "OPENAI_API_KEY")  # the OpenAI client refuses to start without
        if key:
            env["OPENAI_API_KEY"] = key
        return env

    def write_config(self, request: SessionRequest, home: Path) -> None:
        """Seed the model-price cache (else aider downloads it from GitHub at start), make the
        history directory, and keep aider's repo-map cache out of the worktree's commits."""
        self.history_dir(home).mkdir(parents=True, exist_ok=True)
        # Only an endpoint's model gets an entry: litellm's bundled data knows the real ones.
        _seed_price_cache(home / ".aider" / "caches" / "model_prices_and_context_window.json",
                          self.model_name(request) if request.base_url else None)
        if (request.worktree / ".git").exists():
            try:
                git.add_info_exclude(request.worktree, TAGS_CACHE_EXCLUDE)
            except (FatalError, OSError):
                pass  # only tidiness: the engine's own checks still see any stray file

    def parse(self, text: str) -> list[AgentEvent]:
        """Aider's analytics records (the last run's, if the text holds several) as events."""
        records = _analytics_records(text)
        starts = [i for i, r in enumerate(records) if r.get("event") == "launched"]
        records = records[starts[-1]:] if starts else records
        events: list[AgentEvent] = []
        pending = replies = 0  # model calls started and not yet answered; answered ones
        for rec in records:
            event, props = rec.get("event"), rec.get("properties") or {}
            if event == "launched":
                events.append(AgentEvent(Kind.SESSION_STARTED, session_id=SESSION_ID))
            elif event == "message_send_starting":
                pending += 1
            elif event == "message_send":
                pending, replies = max(0, pending - 1), replies + 1
                cost = props.get("cost")
                events.append(AgentEvent(
                    Kind.USAGE, input_tokens=int(props.get("prompt_tokens") or 0),
                    output_tokens=int(props.get("completion_tokens") or 0),
                    cost_usd=float(cost) if isinstance(cost, (int, float)) else None))
            elif event == "message_send_exception":
                why = str(props.get("exception") or "model call failed")
                events.append(AgentEvent(Kind.ERROR, text=why, fatal=True))
            elif event == "exit":
                events += _exit(str(props.get("reason") or ""), pending, replies, text)
        return events


def _exit(reason: str, pending: int, replies: int, text: str) -> list[AgentEvent]:
    events = []
    if pending:
        # A model call that never got its reply: litellm raised (API error) and aider gave up.
        found = _API_ERROR_LINE.findall(text)
        detail = found[-1].strip() if found else "the model API call failed"
        events.append(AgentEvent(Kind.ERROR, text=f"model request without a reply: {detail}",
                                 fatal=True))
    completed = reason.startswith("Completed --message")
    if not completed:
        why = reason or "no reason given"
        events.append(AgentEvent(Kind.ERROR, text=f"aider exited early: {why}", fatal=True))
    ok = completed and replies > 0 and not pending
    events.append(AgentEvent(Kind.FINISHED, success=ok, text=reason))
    return events


def _analytics_records(text: str) -> list[dict[str, Any]]:
    """Every analytics record in ``text``, also one sharing its line with earlier terminal text."""
    decoder = json.JSONDecoder()
    records = []
    for line in text.splitlines():
        found = _EVENT_START.search(line)
        if not found:
            continue
        try:
            value, _ = decoder.raw_decode(line, found.start())
        except ValueError:
            continue
        if isinstance(value, dict) and "event" in value:
            records.append(value)
    return records


def _seed_price_cache(path: Path, model: str | None) -> None:
    """A fresh, non-empty price cache with an entry for ``model`` (an empty one counts as
    missing). Existing entries are kept; the file is rewritten only when an entry is missing or
    it is getting old."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        content, age = {}, float("inf")
    if not isinstance(content, dict):
        content = {}
    entry = {"max_input_tokens": 128000, "max_tokens": 8192, "max_output_tokens": 8192,
             "input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
             "litellm_provider": "openai", "mode": "chat"}
    names = [model, model.split("/", 1)[-1]] if model else ["agent-dispatch-placeholder"]
    missing = {n: entry for n in names if n not in content}
    if missing or age > PRICE_CACHE_MAX_AGE_S:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**content, **missing}, indent=1), encoding="utf-8")
