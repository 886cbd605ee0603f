"""The four wire APIs: read a request into a :class:`Conversation`, render a :class:`Reply`.

Shapes follow what the real CLIs accepted. Each API has a
``parse_*`` and a ``render_*``; rendering returns :class:`Json` or :class:`Sse`, which the server
writes without knowing which API it came from.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .scenario import Conversation, Reply

# Context the CLIs inject into user messages; never part of what the human asked.
_INJECTED = re.compile(
    r"<(system-reminder|environment_context|user_instructions|session_context|INSTRUCTIONS)>"
    r".*?</\1>", re.DOTALL)
# OpenCode's title request: "You are a title generator ... Generate a brief title ...".
_TITLE_CALL = re.compile(r"\btitle generator\b|\bgenerate (?:a |an )?(?:\w+ )?title\b",
                         re.IGNORECASE)
_CWD_PATTERNS = (
    re.compile(r"<cwd>\s*([^<\n]+?)\s*</cwd>"),
    re.compile(r"(?:Primary working directory|Working directory|Current working directory)"
               r"\s*[:=]\s*(/[^\s<>'\"]*)", re.IGNORECASE),
    re.compile(r"working in the directory:?\s*[`'\"]?(/[^\s`'\"<>]*)", re.IGNORECASE),
    re.compile(r"Workspace Directories:\**\s*-\s*(/\S+)"),  # Gemini CLI's <session_context>
)


@dataclass
class Json:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Sse:
    events: list[tuple[str | None, Any]]  # (event name or None, JSON object or raw string)


@dataclass
class Usage:
    input: int
    output: int

    @property
    def total(self) -> int:
        return self.input + self.output


def usage_for(body_size: int, reply: Reply) -> Usage:
    """Deterministic token counts, so clients have usage to report: about 4 characters a token."""
    out = reply.text + "".join(c.name + json.dumps(c.args) for c in reply.calls)
    return Usage(max(1, body_size // 4), max(1, len(out) // 4))


# ---------------------------------------------------------------- shared request reading

def clean_text(text: str) -> str:
    """The human's words: injected context blocks removed, whitespace trimmed."""
    return _INJECTED.sub("", text).strip()


def _turns_summary(turns: list[tuple[str, str]]) -> tuple[str, int]:
    """Latest human text and the number of assistant turns after it.

    ``turns`` holds (kind, text) with kind "user", "assistant" or "other" (tool results, system
    messages). A user entry is human when its cleaned text is not empty; consecutive assistant
    entries form one turn (Responses sends a message and its function calls as separate items).
    """
    human, step, previous = "", 0, ""
    for kind, text in turns:
        if kind == "user" and clean_text(text):
            human, step = clean_text(text), 0
        elif kind == "assistant" and previous != "assistant":
            step += 1
        previous = kind if kind != "user" or clean_text(text) else "other"
    return human, step


def find_cwd(texts: Iterable[str]) -> str | None:
    """The working directory the CLI announced in its prompt (system text or injected context)."""
    for text in texts:
        for pattern in _CWD_PATTERNS:
            found = pattern.search(text)
            if found:
                return found.group(1).rstrip(".,;")
    return None


def _purpose(tools: dict, system: str, human: str, schema: dict[str, Any] | None) -> str:
    if tools:
        return "work"
    if schema is not None:
        return "json"
    if "# Diffs:" in human:
        return "commit-message"
    if _TITLE_CALL.search(system):
        return "title"
    return "work"


def _text_of(content: Any) -> str:
    """Text of a message content: a string or a list of typed parts (text/input_text/...)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text"):
            parts.append(str(part.get("text", "")))
    return "\n".join(parts)


def _conversation(api: str, model: str, turns: list[tuple[str, str]], tools: dict,
                  system: str, schema: dict[str, Any] | None = None) -> Conversation:
    human, step = _turns_summary(turns)
    cwd = find_cwd([system, *(text for _, text in turns)])
    return Conversation(api, model, human, step, tools, cwd, _purpose(tools, system, human, schema),
                        schema)


# ---------------------------------------------------------------- Anthropic Messages

def parse_anthropic(body: dict[str, Any]) -> Conversation:
    """Read a ``/v1/messages`` request."""
    turns = []
    for msg in body.get("messages") or []:
        role = msg.get("role")
        if role in ("user", "assistant"):
            turns.append((role, _text_of(msg.get("content"))))
        else:  # Claude Code may put role "system" entries mid-conversation
            turns.append(("other", ""))
    tools = {t["name"]: t.get("input_schema") or {} for t in body.get("tools") or [] if "name" in t}
    return _conversation("anthropic", str(body.get("model", "")), turns, tools,
                         _text_of(body.get("system")))


def _anthropic_blocks(reply: Reply, ref: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    for i, call in enumerate(reply.calls):
        blocks.append({"type": "tool_use", "id": f"toolu_fake{ref}_{i}", "name": call.name,
                       "input": call.args})
    return blocks or [{"type": "text", "text": ""}]


def render_anthropic(reply: Reply, convo: Conversation, usage: Usage, ref: str,
                     stream: bool) -> Json | Sse:
    """A Messages reply: one JSON message, or the SSE event sequence Claude Code consumes."""
    blocks = _anthropic_blocks(reply, ref)
    stop = "tool_use" if reply.calls else "end_turn"
    usage_obj = {"input_tokens": usage.input, "output_tokens": usage.output,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    message = {"id": f"msg_fake{ref}", "type": "message", "role": "assistant",
               "model": convo.model, "content": blocks, "stop_reason": stop,
               "stop_sequence": None, "usage": usage_obj}
    if not stream:
        return Json(200, message)
    events: list[tuple[str | None, Any]] = [("message_start", {
        "type": "message_start",
        "message": {**message, "content": [], "stop_reason": None,
                    "usage": {**usage_obj, "output_tokens": 1}}})]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            ("content_block_start", {"type": "content_block_start", "index": index,
                                     "content_block": start}),
            ("content_block_delta", {"type": "content_block_delta", "index": index,
                                     "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    events += [
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": usage.output}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return Sse(events)


# ---------------------------------------------------------------- OpenAI Chat Completions

def parse_chat(body: dict[str, Any]) -> Conversation:
    """Read a ``/v1/chat/completions`` request."""
    turns, system = [], []
    for msg in body.get("messages") or []:
        role, text = msg.get("role"), _text_of(msg.get("content"))
        if role in ("user", "assistant"):
            turns.append((role, text))
        else:  # system, developer, tool results
            turns.append(("other", ""))
            if role in ("system", "developer"):
                system.append(text)
    tools = {}
    for tool in body.get("tools") or []:
        fn = tool.get("function") or {}
        if "name" in fn:
            tools[fn["name"]] = fn.get("parameters") or {}
    return _conversation("chat", str(body.get("model", "")), turns, tools, "\n".join(system))


def _chat_tool_calls(reply: Reply, ref: str) -> list[dict[str, Any]]:
    return [{"id": f"call_fake{ref}_{i}", "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(c.args)}}
            for i, c in enumerate(reply.calls)]


def render_chat(reply: Reply, convo: Conversation, usage: Usage, ref: str, stream: bool,
                include_usage: bool) -> Json | Sse:
    """A chat completion, or its chunk stream ending in ``data: [DONE]``."""
    finish = "tool_calls" if reply.calls else "stop"
    usage_obj = {"prompt_tokens": usage.input, "completion_tokens": usage.output,
                 "total_tokens": usage.total}
    head = {"id": f"chatcmpl-fake{ref}", "created": int(time.time()), "model": convo.model}
    calls = _chat_tool_calls(reply, ref)
    if not stream:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        return Json(200, {**head, "object": "chat.completion", "usage": usage_obj, "choices": [
            {"index": 0, "message": message, "finish_reason": finish}]})

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {**head, "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    if reply.text:
        chunks.append(chunk({"content": reply.text}))
    if calls:
        chunks.append(chunk({"tool_calls": [{"index": i, **c} for i, c in enumerate(calls)]}))
    chunks.append(chunk({}, finish))
    if include_usage:
        chunks.append({**head, "object": "chat.completion.chunk", "choices": [],
                       "usage": usage_obj})
    else:  # still tell the client the numbers; extra fields are ignored by strict parsers
        chunks[-1]["usage"] = usage_obj
    return Sse([(None, c) for c in chunks] + [(None, "[DONE]")])


# ---------------------------------------------------------------- OpenAI Responses

_ASSISTANT_ITEMS = {"function_call", "reasoning", "custom_tool_call", "local_shell_call"}


def parse_responses(body: dict[str, Any]) -> Conversation:
    """Read a ``/v1/responses`` request (Codex)."""
    raw = body.get("input")
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw or []
    turns = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") in ("user", "assistant"):
            turns.append((item["role"], _text_of(item.get("content"))))
        elif kind in _ASSISTANT_ITEMS:
            turns.append(("assistant", ""))
        else:  # developer/system messages, function_call_output
            turns.append(("other", ""))
    tools = {t["name"]: t.get("parameters") or {} for t in body.get("tools") or [] if "name" in t}
    convo = _conversation("responses", str(body.get("model", "")), turns, tools,
                          str(body.get("instructions") or ""))
    convo.code_mode_tools = sum(_count_tools(item.get("tools")) for item in items
                                if item.get("type") == "additional_tools")
    return convo


def _count_tools(tools: Any) -> int:
    """The tools in a Responses tool list, those inside ``namespace`` entries included."""
    if not isinstance(tools, list):
        return 0
    return sum(_count_tools(t.get("tools")) if t.get("type") == "namespace" else 1
               for t in tools if isinstance(t, dict))


def render_responses(reply: Reply, convo: Conversation, usage: Usage, ref: str,
                     stream: bool) -> Json | Sse:
    """A Responses object, or the SSE events from ``response.created`` to ``response.completed``."""
    rid = f"resp_fake{ref}"
    items: list[dict[str, Any]] = []
    if reply.text:
        items.append({"type": "message", "id": f"msg_fake{ref}", "role": "assistant",
                      "status": "completed", "content": [
                          {"type": "output_text", "text": reply.text, "annotations": []}]})
    for i, call in enumerate(reply.calls):
        items.append({"type": "function_call", "id": f"fc_fake{ref}_{i}",
                      "call_id": f"call_fake{ref}_{i}", "name": call.name,
                      "arguments": json.dumps(call.args), "status": "completed"})
    response = {"id": rid, "object": "response", "created_at": int(time.time()),
                "model": convo.model, "status": "completed", "output": items, "usage": {
                    "input_tokens": usage.input, "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": usage.output,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": usage.total}}
    if not stream:
        return Json(200, response)
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {
        **response, "status": "in_progress", "output": [], "usage": None}}]
    for index, item in enumerate(items):
        events += _response_item_events(index, item)
    events.append({"type": "response.completed", "response": response})
    for n, event in enumerate(events):
        event["sequence_number"] = n
    return Sse([(e["type"], e) for e in events])


def _response_item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    if item["type"] == "message":
        text = item["content"][0]["text"]
        part = {"item_id": item["id"], "output_index": index, "content_index": 0}
        middle = [
            {"type": "response.content_part.added", **part,
             "part": {"type": "output_text", "text": "", "annotations": []}},
            {"type": "response.output_text.delta", **part, "delta": text},
            {"type": "response.output_text.done", **part, "text": text},
            {"type": "response.content_part.done", **part, "part": item["content"][0]},
        ]
        started = {**item, "status": "in_progress", "content": []}
    else:
        part = {"item_id": item["id"], "output_index": index}
        middle = [
            {"type": "response.function_call_arguments.delta", **part, "delta": item["arguments"]},
            {"type": "response.function_call_arguments.done", **part,
             "arguments": item["arguments"]},
        ]
        started = {**item, "status": "in_progress", "arguments": ""}
    return [{"type": "response.output_item.added", "output_index": index, "item": started},
            *middle,
            {"type": "response.output_item.done", "output_index": index, "item": item}]


# ---------------------------------------------------------------- Gemini

def parse_gemini(body: dict[str, Any], model: str) -> Conversation:
    """Read a ``:generateContent`` / ``:streamGenerateContent`` request (model from the path)."""
    turns = []
    for content in body.get("contents") or []:
        parts = content.get("parts") or []
        text = "\n".join(str(p["text"]) for p in parts if isinstance(p, dict) and "text" in p)
        role = content.get("role", "user")
        if role == "model":
            turns.append(("assistant", text))
        elif role == "user":  # words, or functionResponse parts only (then the text is empty)
            turns.append(("user", text))
        else:
            turns.append(("other", ""))
    tools = {}
    for tool in body.get("tools") or []:
        for decl in tool.get("functionDeclarations") or []:
            if "name" in decl:
                tools[decl["name"]] = decl.get("parametersJsonSchema") or decl.get(
                    "parameters") or {}
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    system_text = system if isinstance(system, str) else "\n".join(
        str(p.get("text", "")) for p in system.get("parts") or [] if isinstance(p, dict))
    return _conversation("gemini", model, turns, tools, system_text, _gemini_json_schema(body))


def _gemini_json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a structured-output request (``responseMimeType: application/json``), ``{}``
    when it names none; None for an ordinary request. Gemini CLI's ``generateJson`` calls (model
    router, next-speaker and loop checks, edit corrector) look like this."""
    config = body.get("generationConfig") or body.get("generation_config") or {}
    if not isinstance(config, dict) or config.get("responseMimeType") != "application/json":
        return None
    schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
    return schema if isinstance(schema, dict) else {}


def render_gemini(reply: Reply, convo: Conversation, usage: Usage, ref: str,
                  stream: bool) -> Json | Sse:
    """A GenerateContentResponse, or the same object as the single event of an SSE stream."""
    parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
    for i, call in enumerate(reply.calls):
        parts.append({"functionCall": {"name": call.name, "args": call.args,
                                       "id": f"call_fake{ref}_{i}"}})
    body = {"candidates": [{"content": {"role": "model", "parts": parts or [{"text": ""}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": usage.input,
                              "candidatesTokenCount": usage.output,
                              "totalTokenCount": usage.total},
            "modelVersion": convo.model, "responseId": f"fake{ref}"}
    return Sse([(None, body)]) if stream else Json(200, body)


# ---------------------------------------------------------------- errors

_ERROR_NAMES = {
    # status: (Anthropic type, OpenAI type, Gemini status)
    400: ("invalid_request_error", "invalid_request_error", "INVALID_ARGUMENT"),
    401: ("authentication_error", "invalid_api_key", "UNAUTHENTICATED"),
    403: ("permission_error", "permission_denied", "PERMISSION_DENIED"),
    404: ("not_found_error", "not_found", "NOT_FOUND"),
    429: ("rate_limit_error", "rate_limit_exceeded", "RESOURCE_EXHAUSTED"),
    503: ("overloaded_error", "server_error", "UNAVAILABLE"),
    529: ("overloaded_error", "server_error", "UNAVAILABLE"),
}


def render_error(api: str, status: int, message: str) -> Json:
    """An HTTP error in the shape ``api``'s clients parse."""
    anthropic, openai, gemini = _ERROR_NAMES.get(status, ("api_error", "server_error",
                                                          "INTERNAL"))
    headers = {"retry-after": "0"} if status == 429 else {}
    if api == "anthropic":
        body: dict[str, Any] = {"type": "error", "error": {"type": anthropic, "message": message}}
    elif api == "gemini":
        body = {"error": {"code": status, "message": message, "status": gemini}}
    else:
        body = {"error": {"message": message, "type": openai, "param": None, "code": openai}}
    return Json(status, body, headers)
