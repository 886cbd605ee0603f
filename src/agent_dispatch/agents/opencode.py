"""OpenCode (``opencode-ai``, verified with 1.18.33) run headless.

    opencode run --pure --format json --dir WORKTREE [-m PROVIDER/MODEL] [-s SESSION] -- TEXT

Its ``--format json`` stream has one JSON object a line, each with ``type``, ``sessionID`` and
``part``: ``step_start``, ``text{part.text}``, ``tool_use{part.tool, part.callID,
part.state{status,input,output,error,metadata}}``, ``step_finish{part.reason, part.tokens,
part.cost}`` and ``error{error{name,data{message}}}``. There is no final result event: a run
that ends well ends with ``step_finish`` whose reason is ``stop``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agent_dispatch.agents.base import SessionRequest
from agent_dispatch.agents.cli import PLACEHOLDER_KEY, CLIAdapter, api_v1, json_lines
from agent_dispatch.agents.events import AgentEvent, Kind, as_dict
from agent_dispatch.files import write_if_changed

# Our own provider name in the generated config when the plan gives a model endpoint.
PROVIDER = "dispatch"
# Env var the generated config reads the endpoint's key from ({env:...} substitution), so a real
# key never lands on disk.
KEY_VAR = "OPENCODE_DISPATCH_API_KEY"
# Tool errors that mean "not allowed": an "ask" rule auto-rejected by headless `run`, or a rule.
DENIED_MARKERS = ("rejected permission", "rule which prevents you from using")
# Tools whose successful call changed ``input.filePath``.
FILE_TOOLS = frozenset({"write", "edit", "multiedit"})
# The quiet, offline switches: no update check, no
# models.dev fetch, no LSP downloads, no sharing, no default plugins from npm.
QUIET_ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
}


class OpenCodeAdapter(CLIAdapter):
    """OpenCode: ``run`` once per session, follow-ups by ``run -s <sessionID>``."""

    name = "opencode"
    env_allow = ("OPENCODE_*", "OPENAI_*", "ANTHROPIC_*")  # its keys, endpoint and settings
    binary = "opencode"

    def cli_argv(self, exe: str, request: SessionRequest) -> list[str]:
        """Start or resume a session. The text is one argument after ``--`` so that a prompt
        starting with "-" is not read as an option."""
        # Why --dir: `run` takes its project directory from $PWD before the real cwd, and $PWD is
        # inherited from whoever started the engine, not the worktree.
        argv = [exe, "run", "--pure", "--format", "json", "--dir", str(request.worktree)]
        model = self.model_ref(request)
        if model:
            argv += ["-m", model]
        if request.resuming and request.resume_session:
            argv += ["-s", request.resume_session]
        return [*argv, "--", request.turn_text()]

    def model_ref(self, request: SessionRequest) -> str | None:
        """``provider/model``: our provider when the plan gives an endpoint, else the plan's own."""
        if request.base_url:
            return f"{PROVIDER}/{request.model or 'default'}"
        return request.model

    def config_path(self, home: Path) -> Path:
        return home / "opencode.json"

    def cli_env(self, request: SessionRequest, home: Path) -> dict[str, str]:
        """Config file, quiet switches and the endpoint's key (else the user's OPENAI_API_KEY)."""
        env = {"OPENCODE_CONFIG": str(self.config_path(home)), **QUIET_ENV}
        if request.base_url:
            env[KEY_VAR] = request.api_key or os.environ.get("OPENAI_API_KEY") or PLACEHOLDER_KEY
        return env

    def write_config(self, request: SessionRequest, home: Path) -> None:
        """``opencode.json`` in the home: edits and shell allowed, web fetch denied, no update or
        sharing, and with an endpoint a custom OpenAI-compatible provider for it. Rewritten only
        when it changes; the session database lives elsewhere (``$XDG_DATA_HOME/opencode``)."""
        config: dict[str, Any] = {
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": False,
            "share": "disabled",
            "permission": {"edit": "allow", "bash": "allow", "webfetch": "deny"},
        }
        if request.base_url:
            model_id = request.model or "default"
            ref = f"{PROVIDER}/{model_id}"
            # Why small_model too: the title call would otherwise go to a default (remote) provider.
            config.update(model=ref, small_model=ref, provider={PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",  # bundled: nothing is installed at run time
                "name": "agent-dispatch endpoint",
                "options": {"baseURL": api_v1(request.base_url),
                            "apiKey": f"{{env:{KEY_VAR}}}"},
                "models": {model_id: {"name": model_id, "tool_call": True,
                                      "limit": {"context": 128000, "output": 8192}}},
            }})
        write_if_changed(self.config_path(home), json.dumps(config, indent=2) + "\n")
        _mark_plugin_installed(home / ".config" / "opencode")

    def parse(self, text: str) -> list[AgentEvent]:
        """The JSON lines mapped to events; a ``finished`` event only for a ``stop`` step."""
        events: list[AgentEvent] = []
        reply: list[str] = []  # text since the last tool call: the final message
        started = False
        for obj in json_lines(text):
            session = obj.get("sessionID")
            if session and not started:
                started = True
                events.append(AgentEvent(Kind.SESSION_STARTED, session_id=session))
            part = as_dict(obj.get("part"))
            kind = obj.get("type")
            if kind == "text":
                reply.append(str(part.get("text") or ""))
                events.append(AgentEvent(Kind.TEXT, text=reply[-1]))
            elif kind == "tool_use":
                reply.clear()
                events += _tool(part)
            elif kind == "step_finish":
                events += _step_finish(part, "".join(reply))
            elif kind == "error":
                events.append(AgentEvent(Kind.ERROR, text=_error_text(obj.get("error")),
                                         fatal=True))
        return events


def _tool(part: dict[str, Any]) -> list[AgentEvent]:
    state = as_dict(part.get("state"))
    name, call = str(part.get("tool") or ""), part.get("callID")
    params = as_dict(state.get("input"))
    status = state.get("status")
    if status not in ("completed", "error"):
        return [AgentEvent(Kind.TOOL_USE, tool=name, tool_id=call, input=params)]
    error = str(state.get("error") or "")
    ok, denied = status == "completed", any(m in error for m in DENIED_MARKERS)
    if name == "invalid":
        # OpenCode's stand-in for a call it could not make. A tool the config removed ("deny") or
        # that does not exist is "unavailable": like Gemini's `Tool "x" not found`, a denial.
        # Bad arguments land here too: those are a failed call.
        name, error = str(params.get("tool") or name), str(params.get("error") or "")
        ok, denied = False, "unavailable tool" in error
    events = [AgentEvent(Kind.TOOL_USE, tool=name, tool_id=call, input=params),
              AgentEvent(Kind.TOOL_RESULT, tool=name, tool_id=call, ok=ok, denied=denied,
                         text=str(state.get("output") or error))]
    path = params.get("filePath")
    if ok and name in FILE_TOOLS and isinstance(path, str) and path:
        events.append(AgentEvent(Kind.FILE_CHANGE, path=path))
    return events


def _step_finish(part: dict[str, Any], final_text: str) -> list[AgentEvent]:
    tokens = as_dict(part.get("tokens"))
    cost = part.get("cost")
    events = [AgentEvent(Kind.USAGE, input_tokens=int(tokens.get("input") or 0),
                         output_tokens=int(tokens.get("output") or 0),
                         cost_usd=float(cost) if isinstance(cost, (int, float)) else None)]
    if part.get("reason") == "stop":
        # Errors, if any, are separate events and fail the session in the summary.
        events.append(AgentEvent(Kind.FINISHED, success=True, text=final_text))
    return events


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error or "error")
    data = as_dict(error.get("data"))
    message = str(data.get("message") or error.get("message") or "")
    name = str(error.get("name") or "error")
    return f"{name}: {message}" if message else name


def _mark_plugin_installed(config_dir: Path) -> None:
    """Make OpenCode's background ``npm install @opencode-ai/plugin`` into its config dir a no-op.

    Why: every run forks that install (for custom tools, which ``--pure`` runs never load) and it
    looks up registry.npmjs.org (seen in a DNS log), whatever OPENCODE_DISABLE_DEFAULT_PLUGINS
    says. OpenCode skips it when ``node_modules`` exists and the lock file lists the package.
    """
    lock = config_dir / "package-lock.json"
    if lock.exists():
        return  # OpenCode's own install, or ours: leave it alone
    (config_dir / "node_modules").mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"name": "opencode-config", "lockfileVersion": 3, "requires": True,
                                "packages": {"": {"dependencies": {"@opencode-ai/plugin": "*"}}}},
                               indent=2) + "\n", encoding="utf-8")
