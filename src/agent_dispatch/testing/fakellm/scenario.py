"""Scenario files: which reply the fake model gives to which request.

A scenario is JSON::

    {"rules": [{"match": "hello", "notools": false, "steps": [STEP, ...]}, ...],
     "errors": [{"match": null, "status": 429, "message": "slow down", "times": 1}]}

Which rules a request may take depends on what it is: a request offering tools takes any rule
without "purpose"; a tool-less work request (aider's edit call) only rules with "notools": true;
the CLIs' tool-less housekeeping calls (OpenCode's title, aider's commit message, a request for
JSON that follows a schema, such as Gemini CLI's model router) only rules with the matching
"purpose", and otherwise get a canned answer (for JSON: the plainest value the schema accepts).

This module knows nothing about HTTP or wire formats: ``wire`` turns a request into a
:class:`Conversation`, :func:`plan_reply` turns that into a :class:`Reply`, ``wire`` renders it.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import posixpath
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DONE_TEXT = "done"
COMMIT_TEXT = "update files"
CANNED_TEXT = "ok"
# Starts the error a request gets when its CLI offered tools the fake cannot call; the agent
# adapters look for it (agents.cli.NO_TOOLS_MARK) to tell a setup fault from a failed session.
NO_TOOLS_MARK = "fakellm: no tools offered"

# Tools that run a shell command, by exact name, with the argument that holds the command.
# Claude Code, Codex (unified exec, then the older `shell`), Gemini CLI / Qwen Code, OpenCode.
SHELL_TOOLS = (("Bash", "command"), ("exec_command", "cmd"), ("shell", "command"),
               ("run_shell_command", "command"), ("bash", "command"))
# Tools that write a whole file: name, path argument, content argument.
WRITE_TOOLS = (("Write", "file_path", "content"), ("write_file", "file_path", "content"),
               ("write", "filePath", "content"))
# Tools that read a file, with the path argument.
READ_TOOLS = (("Read", "file_path"), ("read_file", "file_path"), ("read", "filePath"))

PURPOSES = ("title", "commit-message", "json")
# Every key a step may have, with its JSON type; an entry of "tools" takes the action keys only.
_STEP_TYPES: dict[str, type] = {"text": str, "tool": str, "input": dict, "tools": list,
                                "shell": str, "write": str, "content": str, "read": str,
                                "error": int, "message": str, "times": int}
_ACTION_KEYS = frozenset({"tool", "input", "shell", "write", "content", "read"})


class ScenarioError(ValueError):
    """The scenario file is missing, not JSON, or not shaped like a scenario.

    ``field`` names the part of the scenario that is wrong (``rules[0].steps[1]``); ``node`` is the
    JSON object or list it is in, so that `load_scenario` can name the line.
    """

    def __init__(self, message: str, *, field: str = "scenario", node: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.node = node


class _LineDecoder(json.JSONDecoder):
    """A JSON decoder that remembers where each object and list starts (by ``id``), for error lines."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: dict[int, int] = {}
        plain_object: Any = getattr(json.decoder, "JSONObject")  # untyped in typeshed
        plain_array: Any = getattr(json.decoder, "JSONArray")

        def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
            value, end = plain_object(s_and_end, *args)
            self.starts[id(value)] = s_and_end[1] - 1
            return value, end

        def parse_array(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
            value, end = plain_array(s_and_end, *args)
            self.starts[id(value)] = s_and_end[1] - 1
            return value, end

        self.parse_object, self.parse_array = parse_object, parse_array
        make_scanner: Any = getattr(json.scanner, "py_make_scanner")  # the C scanner would not call them
        self.scan_once = make_scanner(self)


@dataclass(frozen=True)
class Rule:
    index: int
    match: str | None
    steps: tuple[dict[str, Any], ...]
    notools: bool = False
    purpose: str | None = None


@dataclass(frozen=True)
class ErrorRule:
    index: int
    match: str | None
    status: int
    message: str
    times: int | None = None


@dataclass(frozen=True)
class Scenario:
    rules: tuple[Rule, ...] = ()
    errors: tuple[ErrorRule, ...] = ()


@dataclass
class Conversation:
    """What the scenario needs to know about one model request, whatever its wire API."""

    api: str
    model: str
    human_text: str
    step: int
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> parameter schema
    cwd: str | None = None
    purpose: str = "work"  # "work", "commit-message" (aider), "title" (OpenCode) or "json"
    schema: dict[str, Any] | None = None  # the JSON schema a "json" request's answer must follow
    # Tools offered only inside Codex's code mode (an ``additional_tools`` input item whose tools
    # the model must call from JavaScript through the ``exec`` tool): none the fake can call.
    code_mode_tools: int = 0


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any]


@dataclass
class Reply:
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    error: tuple[int, str] | None = None
    rule: int | None = None
    kind: str = "text"  # text, tool_calls, error, done, canned, no_tools


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}:1: scenario: cannot read scenario: {exc}") from exc
    decoder = _LineDecoder()
    try:
        data = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}:{exc.lineno}: JSON syntax: the scenario is not JSON: {exc.msg} "
                            f"(column {exc.colno})") from exc
    except RecursionError as exc:
        raise ScenarioError(f"{path}:1: JSON syntax: the scenario is nested too deeply") from exc
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        start = decoder.starts.get(id(exc.node), 0)
        line = text.count("\n", 0, start) + 1
        message = str(exc)
        where, sep, rest = message.partition(": ")
        if sep and exc.field.startswith(where):
            message = rest  # the field is named once, up front
        raise ScenarioError(f"{path}:{line}: {exc.field}: {message}", field=exc.field, node=exc.node) from None


def parse_scenario(data: Any) -> Scenario:
    """Validate scenario JSON (already decoded) and return it as a :class:`Scenario`."""
    if not isinstance(data, dict):
        raise ScenarioError("a scenario is a JSON object with a 'rules' list", node=data)
    unknown = set(data) - {"rules", "errors"}
    if unknown:
        raise ScenarioError(f"unknown scenario keys: {sorted(unknown)}", node=data)
    rules = tuple(_parse_rule(i, r) for i, r in enumerate(_list(data, "rules")))
    errors = tuple(_parse_error(i, e) for i, e in enumerate(_list(data, "errors")))
    return Scenario(rules, errors)


def _list(data: dict, key: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ScenarioError(f"'{key}' must be a list", field=key, node=data)
    return value


def _parse_match(where: str, raw: dict) -> str | None:
    match = raw.get("match")
    if match is not None and not isinstance(match, str):
        raise ScenarioError(f"{where}: 'match' must be a string or null", field=f"{where}.match", node=raw)
    return match


def _parse_rule(index: int, raw: Any) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("steps", []), list):
        raise ScenarioError(f"{where} must be an object with a 'steps' list", field=where, node=raw)
    unknown = set(raw) - {"match", "steps", "notools", "purpose"}
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}", field=where, node=raw)
    if not isinstance(raw.get("purpose"), (str, type(None))) or raw.get("purpose") not in (None, *PURPOSES):
        raise ScenarioError(f"{where}: 'purpose' is one of {', '.join(PURPOSES)}", field=f"{where}.purpose", node=raw)
    for n, step in enumerate(raw.get("steps", [])):
        _check_step(f"{where}.steps[{n}]", step)
    return Rule(index, _parse_match(where, raw), tuple(raw.get("steps", [])),
                bool(raw.get("notools", False)), raw.get("purpose"))


def _check_step(where: str, step: Any, keys: frozenset[str] = frozenset(_STEP_TYPES)) -> None:
    if not isinstance(step, dict) or not step:
        raise ScenarioError(f"{where} must be a non-empty object", field=where, node=step)
    unknown = set(step) - keys
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}", field=where, node=step)
    for key, value in step.items():
        if not isinstance(value, _STEP_TYPES[key]) or isinstance(value, bool):
            raise ScenarioError(f"{where}: '{key}' must be a {_STEP_TYPES[key].__name__}", field=f"{where}.{key}",
                                node=step)
    if "input" in step and "tool" not in step:
        raise ScenarioError(f"{where}: 'input' needs 'tool'", field=f"{where}.input", node=step)
    if "content" in step and "write" not in step:
        raise ScenarioError(f"{where}: 'content' needs 'write'", field=f"{where}.content", node=step)
    for n, action in enumerate(step.get("tools", [])):
        _check_step(f"{where}.tools[{n}]", action, _ACTION_KEYS)


def _parse_error(index: int, raw: Any) -> ErrorRule:
    where = f"errors[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("status"), int):
        raise ScenarioError(f"{where} must be an object with an integer 'status'", field=where, node=raw)
    unknown = set(raw) - {"match", "status", "message", "times"}
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}", field=where, node=raw)
    times = raw.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
        raise ScenarioError(f"{where}: 'times' must be an integer or null", field=f"{where}.times", node=raw)
    return ErrorRule(index, _parse_match(where, raw), raw["status"],
                     str(raw.get("message", "injected error")), raw.get("times"))


class Budgets:
    """How many times each ``times``-limited error has fired; survives scenario re-reads."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, key: str, times: int | None) -> bool:
        """Use one firing of ``key``; False once ``times`` firings are spent (None: unlimited)."""
        with self._lock:
            used = self._used.get(key, 0)
            if times is not None and used >= times:
                return False
            self._used[key] = used + 1
            return True


def _matches(match: str | None, text: str) -> bool:
    return match is None or match.lower() in text.lower()


def plan_reply(scenario: Scenario, convo: Conversation, budgets: Budgets) -> Reply:
    """Decide the reply to ``convo``: injected error, a rule's step, "done", or a canned answer.

    A request whose CLI offered its tools in a form the fake cannot call gets a 400 that says so
    (`no_tools_message`): answering it "ok" would make the rehearsal do nothing, silently.
    """
    if convo.code_mode_tools and not convo.tools:
        return Reply(error=(400, no_tools_message(convo)), kind="no_tools")
    for err in scenario.errors:
        key = f"errors[{err.index}]:{err.match}:{err.status}"
        if _matches(err.match, convo.human_text) and budgets.take(key, err.times):
            return Reply(error=(err.status, err.message), kind="error")
    rule = _choose_rule(scenario, convo)
    if rule is None:
        if convo.purpose == "json":
            # Why: a client asking for JSON retries (with backoff) until the text parses; Gemini
            # CLI's model router spent ~100 s on five attempts before every session's work.
            return Reply(text=json.dumps(value_for_schema(convo.schema)), kind="canned")
        text = COMMIT_TEXT if convo.purpose == "commit-message" else CANNED_TEXT
        return Reply(text=text, kind="canned")
    step = _current_step(rule, convo, budgets)
    if step is None:
        return Reply(text=DONE_TEXT, rule=rule.index, kind="done")
    reply = render_step(step, convo)
    reply.rule = rule.index
    return reply


def no_tools_message(convo: Conversation) -> str:
    """The error for a Codex request that offers tools in code mode only: the CLI, the model, the fix."""
    return (f"{NO_TOOLS_MARK}: Codex offers model {convo.model!r} its tools only in code mode "
            f"(JavaScript run by its `exec` tool; {convo.code_mode_tools} tools), which the fake model "
            "cannot script, so the session could do nothing. Fix: give this agent a model outside "
            "Codex's built-in catalogue, e.g. `model: fake-model` in the plan, or set no model and "
            "let `dispatch run --rehearse` choose one (docs/fake-model-server.md)")


def value_for_schema(schema: Any) -> Any:
    """The plainest value ``schema`` accepts: the first ``enum`` value, every property of an
    object, ``minimum`` (else 1 for an integer, 0 for a number), ``"ok"`` for a string, false, an
    empty array. Types may be upper-case (Gemini's OpenAPI-style ``"OBJECT"``); no schema gives
    ``{}``."""
    if not isinstance(schema, dict):
        return {}
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return value_for_schema(schema[key][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    kind = str(kind or ("object" if "properties" in schema else "")).lower()
    if kind == "string":
        return CANNED_TEXT
    if kind == "integer":  # a count or a score (Gemini's router asks for 1-100)
        return schema.get("minimum", 1)
    if kind == "number":  # a fraction or a confidence (Gemini's loop check: 0 = no loop)
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "array":
        return [value_for_schema(schema.get("items")) for _ in range(int(schema.get("minItems") or 0))]
    if kind == "null":
        return None
    properties = schema.get("properties")
    return {name: value_for_schema(sub) for name, sub in properties.items()} if isinstance(
        properties, dict) else {}


def _choose_rule(scenario: Scenario, convo: Conversation) -> Rule | None:
    # Why "purpose": OpenCode's title call carries the user's prompt verbatim and aider's commit
    # call carries the diff, so an ordinary rule would match them and script the wrong reply.
    for rule in scenario.rules:
        if rule.purpose is not None or convo.purpose != "work":
            if rule.purpose != convo.purpose:
                continue
        elif not convo.tools and not rule.notools:
            continue  # aider's edit call: only rules written for tool-less clients
        if _matches(rule.match, convo.human_text):
            return rule
    return None


def _current_step(rule: Rule, convo: Conversation, budgets: Budgets) -> dict[str, Any] | None:
    # An error step adds no assistant turn, so the client's retry lands on the same step; with
    # "times" the error is spent after that many firings and the retry moves on to the next step.
    index = convo.step
    while index < len(rule.steps):
        step = rule.steps[index]
        if "error" in step and "times" in step:
            if budgets.take(f"rules[{rule.index}].steps[{index}]:{rule.match}", step["times"]):
                return step
            index += 1
            continue
        return step
    return None


def render_step(step: dict[str, Any], convo: Conversation) -> Reply:
    """Turn one scenario step into concrete text and tool calls for this request's tool set."""
    if "error" in step:
        message = str(step.get("message", "injected error"))
        return Reply(error=(step["error"], message), kind="error")
    actions: list[dict[str, Any]] = [
        {k: step[k] for k in keys if k in step}
        for keys in (("tool", "input"), ("read",), ("shell",), ("write", "content"))
        if keys[0] in step
    ]
    actions += step.get("tools", [])
    texts = [step["text"]] if step.get("text") else []
    calls: list[ToolCall] = []
    for action in actions:
        call, text = _resolve_action(action, convo)
        if call is not None:
            calls.append(call)
        if text:
            texts.append(text)
    return Reply(text="\n\n".join(texts), calls=calls, kind="tool_calls" if calls else "text")


def _resolve_action(action: dict[str, Any], convo: Conversation) -> tuple[ToolCall | None, str]:
    if "tool" in action:
        return ToolCall(action["tool"], dict(action.get("input") or {})), ""
    if "shell" in action:
        return _shell_call(str(action["shell"]), convo)
    if "read" in action:
        return _read_call(str(action["read"]), convo)
    return _write_call(str(action["write"]), str(action.get("content", "")), convo)


def _shell_call(command: str, convo: Conversation) -> tuple[ToolCall | None, str]:
    if not convo.tools:
        # Aider has no tools; it shows a fenced shell block (and headless never runs it).
        return None, f"```bash\n{command}\n```"
    for name, arg in SHELL_TOOLS:
        schema = convo.tools.get(name)
        if schema is None:
            continue
        props = schema.get("properties") or {}
        value: Any = command
        if props.get(arg, {}).get("type") == "array":  # Codex's older argv-style `shell` tool
            value = ["bash", "-lc", command]
        args = {arg: value}
        if "description" in props:  # Gemini CLI and Qwen Code show it to the user
            args["description"] = "run a scripted command"
        return ToolCall(name, args), ""
    return None, f"(fakellm: no shell tool offered for: {command})"


def _absolute(path: str, convo: Conversation) -> str:
    return posixpath.join(convo.cwd, path) if convo.cwd and not path.startswith("/") else path


def _read_call(path: str, convo: Conversation) -> tuple[ToolCall | None, str]:
    # Why a read step: Qwen Code (and Claude Code) refuse to overwrite a file this session has not
    # read, e.g. after a resume.
    if not convo.tools:
        return None, ""  # aider already has the files in the chat
    for name, arg in READ_TOOLS:
        if name in convo.tools:
            return ToolCall(name, {arg: _absolute(path, convo)}), ""
    call, _ = _shell_call(f"cat {shlex.quote(path)}", convo)
    if call is None:
        return None, f"(fakellm: no read or shell tool offered to read {path})"
    return call, ""


def _write_call(path: str, content: str, convo: Conversation) -> tuple[ToolCall | None, str]:
    if not convo.tools:
        # Aider's "whole" edit format: the path, then the full file in a fence.
        newline = "" if content.endswith("\n") or not content else "\n"
        return None, f"{path}\n```\n{content}{newline}```\n"
    full = _absolute(path, convo)
    for name, path_arg, content_arg in WRITE_TOOLS:
        if name in convo.tools:
            return ToolCall(name, {path_arg: full, content_arg: content}), ""
    # Codex offers no write tool: write through the shell, quoted so any content survives.
    parent = posixpath.dirname(path)
    command = f"printf %s {shlex.quote(content)} > {shlex.quote(path)}"
    if parent:
        command = f"mkdir -p {shlex.quote(parent)} && {command}"
    call, _ = _shell_call(command, convo)
    if call is None:
        return None, f"(fakellm: no write or shell tool offered to write {path})"
    return call, ""
