"""What every real agent CLI adapter shares: binary lookup, isolated homes, reading the stream.

A subclass says how to start and resume its CLI (``argv``), which environment and config files
keep it quiet and isolated (``cli_env``, ``prepare``) and how its machine-readable output maps to
``AgentEvent`` (``parse``). Success is decided here, the same way for every CLI: the session must
have finished, the CLI must not report an error, and no tool may have been denied, whatever the
exit code says.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent_dispatch.agents.base import (
    SIGKILLED_DETAIL,
    SessionOutcome,
    SessionOutput,
    SessionRequest,
    killed_by_sigkill,
    output_text,
    session_env,
)
from agent_dispatch.agents.events import AgentEvent, Kind, summarize
from agent_dispatch.errors import FatalError
from agent_dispatch.files import write_if_changed

# Placeholder key for endpoints that need one to be set (the fake model server ignores it).
PLACEHOLDER_KEY = "dispatch-placeholder-key"
# The model a rehearsal (``dispatch run --rehearse``) gives a CLI when the plan names none: a name
# outside every CLI's own catalogue, for which each real CLI sends its tools as plain functions
# (verified for all six; Codex's built-in models get theirs only in code mode).
REHEARSAL_MODEL = "fake-model"
# How the fake model server's refusal starts when a CLI offered no tools it can call; the same
# text as ``testing.fakellm.scenario.NO_TOOLS_MARK`` (that package is no dependency of this one).
NO_TOOLS_MARK = "fakellm: no tools offered"


def json_lines(text: str) -> Iterator[dict[str, Any]]:
    """Every line of ``text`` that is a JSON object; other lines (stderr, banners) are skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value


def prompt_arg(text: str) -> list[str]:
    """The prompt as the last positional, after ``--`` so a leading ``-`` is no option."""
    return ["--", text]


def env_value(request: SessionRequest, name: str) -> str | None:
    """A variable from the plan's extra environment or the user's (empty counts as unset)."""
    return request.extra_env.get(name) or os.environ.get(name) or None


def key_to_set(request: SessionRequest, *names: str) -> str | None:
    """The API key to put in the environment, or None to leave the user's own in place.

    The plan's ``api_key`` wins; otherwise a key the user already exports under one of ``names``
    passes through untouched; with neither, an overridden endpoint (a local server) gets a
    placeholder so the CLI does not stop at a login step.
    """
    if request.api_key:
        return request.api_key
    if any(env_value(request, name) for name in names):
        return None
    return PLACEHOLDER_KEY if request.base_url else None


def api_root(base_url: str) -> str:
    """``base_url`` without a trailing ``/`` or ``/v1`` (for clients that add ``/v1``)."""
    root = base_url.rstrip("/")
    return root.removesuffix("/v1")


def api_v1(base_url: str) -> str:
    """``base_url`` ending in exactly one ``/v1`` (the clients that expect it in the base URL)."""
    return api_root(base_url) + "/v1"


def with_complaint(events: list[AgentEvent], text: str) -> list[AgentEvent]:
    """``events``, plus the CLI's own last words as a fatal error when its stream never finished.

    A CLI that stops before its stream starts (bad resume id, bad flag, crash) only says why on
    stderr, which shares the session log: e.g. Qwen's "No saved session found ...", Codex's
    "Error: thread/resume: ... no rollout found".
    """
    if any(e.kind is Kind.FINISHED for e in events):
        return events
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and not line.lstrip().startswith(("{", "WARNING", "Reading additional input"))]
    errors = [line for line in lines if line.startswith(("Error", "error", "Fatal"))]
    if not (errors or lines):
        return events
    said = (errors or lines)[-1]
    session = next((e.session_id for e in events if e.session_id), None)
    return [*events, AgentEvent(Kind.ERROR, session_id=session, text=said[:500], fatal=True)]


def no_tools_error(errors: list[str]) -> str | None:
    """The fake model server's "no tools offered" message among a session's fatal errors, cut
    out of the API error body the CLI wrapped it in; None when there is none."""
    for error in reversed(errors):
        start = error.find(NO_TOOLS_MARK)
        if start >= 0:
            return error[start:].split('"', 1)[0].split("\\", 1)[0].strip()
    return None


def int_or_zero(value: Any) -> int:
    """An integer field of a CLI's JSON, 0 when missing or of another type."""
    return value if isinstance(value, int) else 0


def deep_merge(base: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``ours`` laid over it, nested dicts merged."""
    merged = dict(base)
    for key, value in ours.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_json_file(path: Path, ours: dict[str, Any]) -> None:
    """Deep-merge ``ours`` into the JSON object at ``path`` (a CLI's settings file, which the CLI
    writes too); a missing or broken file counts as empty. Written only when something changed."""
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = {}
    if not isinstance(current, dict):
        current = {}
    write_if_changed(path, json.dumps(deep_merge(current, ours), indent=2) + "\n")


class CLIAdapter:
    """Base class of the adapters for real agent CLIs."""

    name: str = ""
    binary: str = ""  # executable name looked up on PATH; DISPATCH_<NAME>_BIN overrides
    supports_sub_agents: bool = False
    # True when a resumed session reports usage for the whole thread so far (Codex), not just itself.
    usage_spans_resumes: bool = False
    # The model a rehearsal uses when the plan sets none (see REHEARSAL_MODEL).
    rehearsal_model: str | None = REHEARSAL_MODEL
    # The operator's variables this CLI needs besides `base.BASE_ENV_ALLOW` (its API keys and
    # settings): names or ``PREFIX*`` patterns. Nothing else of the environment reaches it.
    env_allow: tuple[str, ...] = ()

    # -- subclasses implement ------------------------------------------------------------------
    def cli_argv(self, exe: str, request: SessionRequest) -> list[str]:
        raise NotImplementedError

    def cli_env(self, request: SessionRequest, home: Path) -> dict[str, str]:
        """Variables this CLI needs on top of the session environment (base URL, keys, quiet flags)."""
        return {}

    def write_config(self, request: SessionRequest, home: Path) -> None:
        """Config files inside the isolated home (settings that keep the CLI quiet and offline)."""

    def parse(self, text: str) -> list[AgentEvent]:
        """The session's output mapped to events."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------
    def executable(self) -> str:
        override = os.environ.get(f"DISPATCH_{self.name.upper()}_BIN")
        found = override or shutil.which(self.binary)
        if not found:
            raise FatalError(f"the {self.name} CLI ({self.binary!r}) is not on PATH\n"
                             f"hint: install it, or set DISPATCH_{self.name.upper()}_BIN to its path")
        return found

    def home(self, request: SessionRequest) -> Path:
        if request.state_home is None:
            raise FatalError(f"no isolated home for agent {request.agent!r}")
        return request.state_home

    def argv(self, request: SessionRequest) -> list[str]:
        return self.cli_argv(self.executable(), request)

    def env(self, request: SessionRequest) -> dict[str, str]:
        home = self.home(request)
        env = session_env(request, self.env_allow)
        env.update({
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
        })
        # The isolated HOME hides the user's git identity and settings: point git back at them.
        real_config = Path(os.path.expanduser("~")) / ".gitconfig"
        if "GIT_CONFIG_GLOBAL" not in env and real_config.is_file():
            env["GIT_CONFIG_GLOBAL"] = str(real_config)
        env.update(self.cli_env(request, home))
        return env

    def prepare(self, request: SessionRequest) -> None:
        home = self.home(request)
        for sub in ("", ".config", ".local/share", ".cache", ".local/state"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        self.write_config(request, home)

    def outcome(self, exit_code: int | None, output: SessionOutput, *, timed_out: bool,
                killed: bool) -> SessionOutcome:
        """How the session ended: its exit status, and the CLI's event stream in ``output``."""
        summary = summarize(self.parse(output_text(output)))
        if timed_out:
            return SessionOutcome("timeout", exit_code, "session timed out", summary)
        if killed:
            return SessionOutcome("killed", exit_code, "session was stopped", summary)
        if killed_by_sigkill(exit_code):
            return SessionOutcome("killed", exit_code, SIGKILLED_DETAIL, summary)
        if exit_code is None:
            return SessionOutcome("lost", None, "exit status unknown", summary)
        no_tools = no_tools_error(summary.errors)
        if no_tools is not None:
            return SessionOutcome("no_tools", exit_code, f"{self.name}: {no_tools}", summary)
        if summary.limit_reached:
            return SessionOutcome("limit", exit_code, "turn or context limit reached", summary)
        reason = summary.failure_reason()
        if reason is None and exit_code != 0:
            reason = f"exited with status {exit_code}"
        if reason is not None:
            return SessionOutcome("failed", exit_code, reason, summary)
        return SessionOutcome("ended", exit_code, "", summary)
