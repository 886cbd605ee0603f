"""The fake model server, over real loopback sockets: every wire API, the scenario language, the
request log, the CLI entry point and the loopback-only network namespace.

Request bodies below are trimmed copies of what the real CLIs sent, so the
abstract steps are checked against each CLI's actual tool names and argument names.

Optional: ``FAKELLM_REAL_CLIS=1`` also drives each real agent CLI (from ``.ci/install-clis``, or on
PATH) against the server inside a network namespace, through the shared real-CLI driver
(tests/realcli.py; slow; see test_real_cli_*).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from realcli import RealCLI
from skips import no_skips

from agent_dispatch.testing.fakellm import FakeModelServer, ScenarioError, parse_scenario
from agent_dispatch.testing.fakellm.scenario import value_for_schema
from agent_dispatch.testing.netns import loopback_only_argv, netns_available

SCENARIO: dict[str, Any] = {"rules": [
    {"match": "create hello", "notools": True, "steps": [
        {"text": "Writing the file.", "write": "hello.txt", "content": "hello\n"},
        {"shell": "echo ran > out.txt"},
        {"text": "All done."},
    ]},
    {"match": None, "steps": [{"text": "catch-all"}]},
]}


# ---------------------------------------------------------------- helpers

def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def sse(raw: bytes) -> list[tuple[str | None, Any]]:
    """Parse an SSE body into (event name, decoded data) pairs."""
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
        payload = "\n".join(data)
        events.append((name, payload if payload == "[DONE]" else json.loads(payload)))
    return events


@pytest.fixture
def fake(tmp_path: Path):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    with FakeModelServer(scenario, log=tmp_path / "requests.jsonl") as server:
        yield server


def use_scenario(server: FakeModelServer, data: dict[str, Any]) -> None:
    server.scenario_path.write_text(json.dumps(data))


# ---------------------------------------------------------------- Anthropic (Claude Code)

def _schema(*props: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": {p: {"type": "string"} for p in props},
            "required": list(required or props[:1])}


CLAUDE_TOOLS = [
    {"name": "Bash", "description": "Run a command", "input_schema": _schema("command", "description")},
    {"name": "Edit", "description": "Edit", "input_schema": _schema("file_path", "old_string", "new_string")},
    {"name": "Read", "description": "Read", "input_schema": _schema("file_path")},
    {"name": "Write", "description": "Write", "input_schema": _schema("file_path", "content")},
]


def claude_request(messages: list[dict], stream: bool = True) -> dict[str, Any]:
    return {"model": "fake-model", "max_tokens": 64000, "stream": stream, "tools": CLAUDE_TOOLS,
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197"},
                       {"type": "text", "text": "# Environment\nYou have been invoked in the "
                        "following environment: \n - Primary working directory: /repo\n"
                        " - Is a git repository: true\n"}],
            "messages": messages}


def claude_prompt(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>\nToday's date is 2026-11-29. create hello\n"
                                 "</system-reminder>\n\n"},
        {"type": "text", "text": text}]}


def anthropic_message(events: list[tuple[str | None, Any]]) -> dict[str, Any]:
    """Rebuild the assistant message from an Anthropic stream, the way a client does."""
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    message = events[0][1]["message"]
    blocks: list[dict[str, Any]] = []
    for name, data in events:
        assert data["type"] == name
        if name == "content_block_start":
            blocks.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            block, delta = blocks[data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                block["input"] = json.loads(delta["partial_json"])
        elif name == "message_delta":
            message["stop_reason"] = data["delta"]["stop_reason"]
            message["usage"]["output_tokens"] = data["usage"]["output_tokens"]
    message["content"] = blocks
    return message


def test_anthropic_stream_walks_the_steps_with_claude_tools(fake):
    url = fake.url + "/v1/messages?beta=true"
    messages = [claude_prompt("please create hello.txt")]
    status, headers, raw = post(url, claude_request(messages))
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert headers["connection"] == "close"
    first = anthropic_message(sse(raw))
    assert first["stop_reason"] == "tool_use"
    assert first["content"][0] == {"type": "text", "text": "Writing the file."}
    write = first["content"][1]
    assert (write["name"], write["input"]) == ("Write", {"file_path": "/repo/hello.txt",
                                                         "content": "hello\n"})
    assert first["usage"]["input_tokens"] > 0 and first["usage"]["output_tokens"] > 0

    # Claude Code sends a mid-conversation system message and the tool result as a user turn.
    messages += [{"role": "system", "content": "Available agent types: ..."},
                 {"role": "assistant", "content": first["content"]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": write["id"],
                                               "content": "File created"}]}]
    second = anthropic_message(sse(post(url, claude_request(messages))[2]))
    bash = second["content"][0]
    assert bash["name"] == "Bash" and bash["input"]["command"] == "echo ran > out.txt"

    messages += [{"role": "assistant", "content": second["content"]},
                 {"role": "user", "content": [
                     {"type": "tool_result", "tool_use_id": bash["id"], "content": "ok"},
                     {"type": "text", "text": "<system-reminder>a todo list</system-reminder>"}]}]
    third = anthropic_message(sse(post(url, claude_request(messages))[2]))
    assert third["content"] == [{"type": "text", "text": "All done."}]
    assert third["stop_reason"] == "end_turn"

    messages += [{"role": "assistant", "content": third["content"]}, claude_prompt("and then?")]
    assert anthropic_message(sse(post(url, claude_request(messages))[2]))["content"][0][
        "text"] == "catch-all"
    assert [r["step"] for r in fake.requests()] == [0, 1, 2, 0]


def test_anthropic_non_stream_and_count_tokens(fake):
    status, headers, raw = post(fake.url + "/v1/messages",
                                claude_request([claude_prompt("create hello")], stream=False))
    body = json.loads(raw)
    assert status == 200 and int(headers["content-length"]) == len(raw)
    assert body["type"] == "message" and body["stop_reason"] == "tool_use"
    assert [b["type"] for b in body["content"]] == ["text", "tool_use"]
    assert body["usage"]["input_tokens"] == len(json.dumps(
        claude_request([claude_prompt("create hello")], stream=False)).encode()) // 4
    status, _, raw = post(fake.url + "/v1/messages/count_tokens", {"messages": []})
    assert status == 200 and json.loads(raw)["input_tokens"] >= 1


# ---------------------------------------------------------------- Chat Completions

def _fn(name: str, *props: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": name,
                                             "parameters": _schema(*props)}}


OPENCODE_TOOLS = [_fn("bash", "command", "timeout", "workdir"),
                  _fn("edit", "filePath", "oldString", "newString"),
                  _fn("read", "filePath"), _fn("write", "content", "filePath")]
QWEN_TOOLS = [_fn("read_file", "file_path"), _fn("edit", "file_path", "old_string", "new_string"),
              _fn("write_file", "file_path", "content"),
              _fn("run_shell_command", "command", "is_background", "description", "directory")]


def opencode_request(messages: list[dict], stream: bool = True) -> dict[str, Any]:
    system = ("You are opencode, an interactive CLI tool.\n<env>\n  Working directory: /repo\n"
              "  Workspace root folder: /repo\n</env>")
    return {"model": "fake-model", "max_tokens": 8192, "stream": stream, "tools": OPENCODE_TOOLS,
            "tool_choice": "auto", "stream_options": {"include_usage": True},
            "messages": [{"role": "system", "content": system}, *messages]}


def qwen_request(messages: list[dict]) -> dict[str, Any]:
    context = ("This is the Qwen Code. We are setting up the context for our chat.\n"
               "I'm currently working in the directory: /home/q/project\nHere is the folder ...")
    return {"model": "fake-model", "stream": True, "max_tokens": 8000, "tools": QWEN_TOOLS,
            "stream_options": {"include_usage": True}, "messages": [
                {"role": "system", "content": "You are Qwen Code"},
                {"role": "user", "content": [{"type": "text", "text": context}]},
                {"role": "assistant", "content": "Got it. Thanks for the context!"}, *messages]}


def chat_stream(raw: bytes) -> dict[str, Any]:
    """Accumulate a chat.completion.chunk stream into text, tool calls, finish reason, usage."""
    events = sse(raw)
    assert events[-1] == (None, "[DONE]")
    out: dict[str, Any] = {"text": "", "calls": {}, "finish": None, "usage": None}
    for _, chunk in events[:-1]:
        assert chunk["object"] == "chat.completion.chunk"
        out["usage"] = chunk.get("usage") or out["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            out["text"] += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = out["calls"].setdefault(call["index"], {"id": call["id"], "name": "",
                                                               "arguments": ""})
                slot["name"] += call["function"].get("name", "")
                slot["arguments"] += call["function"].get("arguments", "")
            out["finish"] = choice["finish_reason"] or out["finish"]
    out["calls"] = [{**c, "args": json.loads(c["arguments"])} for c in out["calls"].values()]
    return out


def test_chat_stream_with_opencode_tools(fake):
    url = fake.url + "/v1/chat/completions"
    messages = [{"role": "user", "content": '"please create hello.txt"'}]
    status, headers, raw = post(url, opencode_request(messages))
    assert status == 200 and headers["connection"] == "close"
    events = sse(raw)
    assert events[-2][1]["choices"] == [] and "usage" in events[-2][1]  # include_usage chunk
    first = chat_stream(raw)
    assert first["text"] == "Writing the file." and first["finish"] == "tool_calls"
    assert [(c["name"], c["args"]) for c in first["calls"]] == [
        ("write", {"filePath": "/repo/hello.txt", "content": "hello\n"})]
    assert first["usage"]["total_tokens"] == (first["usage"]["prompt_tokens"]
                                              + first["usage"]["completion_tokens"])
    call = first["calls"][0]
    messages += [{"role": "assistant", "content": first["text"], "tool_calls": [
                     {"id": call["id"], "type": "function",
                      "function": {"name": call["name"], "arguments": call["arguments"]}}]},
                 {"role": "tool", "tool_call_id": call["id"], "content": "Wrote file"}]
    second = chat_stream(post(url, opencode_request(messages))[2])
    # OpenCode's bash has no description parameter, so none is invented.
    assert [(c["name"], c["args"]) for c in second["calls"]] == [
        ("bash", {"command": "echo ran > out.txt"})]


def test_chat_stream_with_qwen_tools(fake):
    url = fake.url + "/v1/chat/completions"
    messages = [{"role": "user", "content": [{"type": "text", "text": "please create hello.txt"}]}]
    first = chat_stream(post(url, qwen_request(messages))[2])
    assert first["calls"][0]["args"] == {"file_path": "/home/q/project/hello.txt",
                                         "content": "hello\n"}
    call = first["calls"][0]
    messages += [{"role": "assistant", "content": None, "tool_calls": [
                     {"id": call["id"], "type": "function",
                      "function": {"name": call["name"], "arguments": call["arguments"]}}]},
                 {"role": "tool", "tool_call_id": call["id"], "content": "created"}]
    second = chat_stream(post(url, qwen_request(messages))[2])
    assert second["calls"][0]["name"] == "run_shell_command"
    assert second["calls"][0]["args"] == {"command": "echo ran > out.txt",
                                          "description": "run a scripted command"}


def test_chat_without_include_usage_puts_usage_on_the_last_chunk(fake):
    body = opencode_request([{"role": "user", "content": "create hello"}])
    del body["stream_options"]
    events = sse(post(fake.url + "/v1/chat/completions", body)[2])
    assert events[-2][1]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-2][1]["usage"]["prompt_tokens"] > 0


def test_chat_non_stream_tool_call(fake):
    status, headers, raw = post(fake.url + "/v1/chat/completions",
                                opencode_request([{"role": "user", "content": "create hello"}],
                                                 stream=False))
    body = json.loads(raw)
    assert status == 200 and int(headers["content-length"]) == len(raw)
    choice = body["choices"][0]
    assert body["object"] == "chat.completion" and choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Writing the file."
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"])[
        "filePath"] == "/repo/hello.txt"
    assert body["usage"]["completion_tokens"] > 0


# ---------------------------------------------------------------- tool-less requests (aider, titles)

AIDER_SYSTEM = "Act as an expert software developer.\nTake requests for changes to the supplied code."
AIDER_REMINDER = "\n\nTo suggest changes to a file you MUST return the entire content of the updated file."


def aider_request(prompt: str) -> dict[str, Any]:
    return {"model": "fake-model", "stream": True, "temperature": 0, "messages": [
        {"role": "system", "content": AIDER_SYSTEM},
        {"role": "user", "content": "Change the greeting to be more casual"},
        {"role": "assistant", "content": "Ok, I will:\n\nshow_greeting.py\n```\n...\n```"},
        {"role": "user", "content": prompt + AIDER_REMINDER}]}


AIDER_COMMIT = {"model": "fake-model", "temperature": 0, "messages": [
    {"role": "system", "content": "You are an expert software engineer that generates concise, "
                                  "one-line Git commit messages based on the provided diffs."},
    {"role": "user", "content": "\nUSER: please create hello.txt\n\nASSISTANT: hello.txt\n```\n"
                                "hello\n```\n\n# Diffs:\ndiff --git a/hello.txt b/hello.txt\n"
                                "+hello\n"}]}

OPENCODE_TITLE = {"model": "fake-model", "max_tokens": 32000, "stream": True,
                  "stream_options": {"include_usage": True}, "messages": [
                      {"role": "system", "content": "You are a title generator. You output ONLY "
                                                    "a thread title.\nGenerate a brief title"},
                      {"role": "user", "content": "Generate a title for this conversation:\n"},
                      {"role": "user", "content": '"please create hello.txt"'}]}


def test_aider_gets_a_whole_file_edit_and_a_canned_commit_message(fake):
    url = fake.url + "/v1/chat/completions"
    reply = chat_stream(post(url, aider_request("please create hello.txt"))[2])
    assert reply["calls"] == [] and reply["finish"] == "stop"
    assert reply["text"] == "Writing the file.\n\nhello.txt\n```\nhello\n```\n"
    assert reply["usage"]["completion_tokens"] > 0
    # The commit-message call contains the diff ("hello"), yet takes no ordinary rule.
    status, _, raw = post(url, AIDER_COMMIT)
    assert status == 200 and json.loads(raw)["choices"][0]["message"]["content"] == "update files"
    kinds = [(r["purpose"], r["reply_kind"], r["rule"]) for r in fake.requests()]
    assert kinds == [("work", "text", 0), ("commit-message", "canned", None)]


def test_tool_less_requests_only_take_notools_and_purpose_rules(fake):
    use_scenario(fake, {"rules": [
        {"match": None, "steps": [{"text": "tools only"}]},
        {"match": "hello", "notools": True, "steps": [{"shell": "make test"}]},
        {"match": None, "purpose": "title", "steps": [{"text": "Create hello"}]},
    ]})
    url = fake.url + "/v1/chat/completions"
    assert chat_stream(post(url, aider_request("create hello"))[2])["text"] == (
        "```bash\nmake test\n```")
    assert chat_stream(post(url, aider_request("something else"))[2])["text"] == "ok"
    assert chat_stream(post(url, OPENCODE_TITLE)[2])["text"] == "Create hello"
    use_scenario(fake, SCENARIO)
    assert chat_stream(post(url, OPENCODE_TITLE)[2])["text"] == "ok"
    assert [r["purpose"] for r in fake.requests()] == ["work", "work", "title", "title"]


# ---------------------------------------------------------------- Responses (Codex)

CODEX_TOOLS = [
    {"type": "function", "name": "exec_command", "description": "Runs a command in a PTY",
     "parameters": _schema("cmd", "workdir", "shell", "tty")},
    {"type": "function", "name": "write_stdin", "parameters": _schema("session_id", "chars")},
    {"type": "web_search"},
]


def codex_request(items: list[dict], stream: bool = True) -> dict[str, Any]:
    def msg(role: str, text: str) -> dict[str, Any]:
        return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}

    return {"model": "fake-model", "stream": stream, "tools": CODEX_TOOLS, "tool_choice": "auto",
            "parallel_tool_calls": False, "store": False, "input": [
                msg("developer", "You are a coding agent running in the Codex CLI."),
                msg("user", "<environment_context>\n  <cwd>/repo</cwd>\n  <shell>bash</shell>\n"
                            "</environment_context>"),
                *items]}


def responses_stream(raw: bytes) -> dict[str, Any]:
    events = sse(raw)
    names = [name for name, _ in events]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert all(data["type"] == name for name, data in events)
    added = [d["item"]["type"] for n, d in events if n == "response.output_item.added"]
    done = [d["item"] for n, d in events if n == "response.output_item.done"]
    assert added == [item["type"] for item in done]
    response = events[-1][1]["response"]
    assert response["output"] == done and response["status"] == "completed"
    return response


def test_responses_stream_drives_codex_exec_command(fake, tmp_path):
    url = fake.url + "/v1/responses"
    content = "it's $HOME `x` \"q\"\nline 2\n"
    use_scenario(fake, {"rules": [{"match": "create", "steps": [
        {"text": "Writing.", "write": "sub dir/hello.txt", "content": content},
        {"shell": "echo ran > out.txt"}]}]})
    items = [{"type": "message", "role": "user",
              "content": [{"type": "input_text", "text": "please create hello.txt"}]}]
    first = responses_stream(post(url, codex_request(items))[2])
    message, call = first["output"]
    assert message["content"][0]["text"] == "Writing."
    assert call["type"] == "function_call" and call["name"] == "exec_command"
    assert first["usage"]["input_tokens"] > 0 and first["usage"]["output_tokens"] > 0
    # Codex has no write tool: the write becomes a shell command that must reproduce the content.
    command = json.loads(call["arguments"])["cmd"]
    subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
    assert (tmp_path / "sub dir" / "hello.txt").read_text() == content

    items += [message, call, {"type": "function_call_output", "call_id": call["call_id"],
                              "output": "Process exited with code 0"}]
    second = responses_stream(post(url, codex_request(items))[2])
    assert json.loads(second["output"][0]["arguments"]) == {"cmd": "echo ran > out.txt"}
    items += [*second["output"], {"type": "function_call_output",
                                  "call_id": second["output"][0]["call_id"], "output": "create"}]
    third = responses_stream(post(url, codex_request(items))[2])
    assert third["output"][0]["content"][0]["text"] == "done"
    assert [(r["step"], r["reply_kind"]) for r in fake.requests()] == [
        (0, "tool_calls"), (1, "tool_calls"), (2, "done")]


def test_responses_non_stream(fake):
    items = [{"role": "user", "content": "create hello"}]  # type-less message items are allowed
    status, _, raw = post(fake.url + "/v1/responses", codex_request(items, stream=False))
    body = json.loads(raw)
    assert status == 200 and body["object"] == "response"
    assert [item["type"] for item in body["output"]] == ["message", "function_call"]


# ---------------------------------------------------------------- Gemini

GEMINI_TOOLS = [{"functionDeclarations": [
    {"name": "read_file", "description": "Read", "parametersJsonSchema": _schema("file_path")},
    {"name": "write_file", "description": "Write",
     "parametersJsonSchema": _schema("file_path", "content")},
    {"name": "run_shell_command", "description": "Shell",
     "parametersJsonSchema": _schema("command", "description", "dir_path")},
]}]


def gemini_request(contents: list[dict]) -> dict[str, Any]:
    context = ("<session_context>\nThis is the Gemini CLI.\n- **Workspace Directories:**\n"
               "  - /work/g\n- **Directory Structure:**\n</session_context>")
    first = {"role": "user", "parts": [{"text": context}, *contents[0]["parts"]]}
    return {"contents": [first, *contents[1:]], "tools": GEMINI_TOOLS,
            "systemInstruction": {"role": "user", "parts": [{"text": "You are Gemini CLI"}]},
            "generationConfig": {"temperature": 1}}


def test_gemini_stream_generate_content(fake):
    url = fake.url + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    contents = [{"role": "user", "parts": [{"text": "please create hello.txt"}]}]
    status, headers, raw = post(url, gemini_request(contents), {"x-goog-api-key": "dummy"})
    assert status == 200 and headers["content-type"] == "text/event-stream"
    [(name, body)] = sse(raw)
    assert name is None
    parts = body["candidates"][0]["content"]["parts"]
    assert parts[0] == {"text": "Writing the file."}
    assert parts[1]["functionCall"]["name"] == "write_file"
    assert parts[1]["functionCall"]["args"] == {"file_path": "/work/g/hello.txt",
                                                "content": "hello\n"}
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    contents += [{"role": "model", "parts": parts}, {"role": "user", "parts": [{"functionResponse": {
        "id": parts[1]["functionCall"]["id"], "name": "write_file",
        "response": {"output": "create hello done"}}}]}]
    [(_, body)] = sse(post(url, gemini_request(contents))[2])
    call = body["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call["name"] == "run_shell_command" and call["args"]["command"] == "echo ran > out.txt"
    assert fake.requests()[-1]["model"] == "gemini-2.5-flash"


def test_gemini_generate_content_and_count_tokens(fake):
    base = fake.url + "/v1beta/models/gemini-2.5-pro"
    contents = [{"role": "user", "parts": [{"text": "create hello"}]}]
    status, headers, raw = post(base + ":generateContent", gemini_request(contents))
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(raw)["candidates"][0]["content"]["parts"][1]["functionCall"]["name"] == (
        "write_file")
    status, _, raw = post(base + ":countTokens", {"contents": contents})
    assert status == 200 and json.loads(raw)["totalTokens"] >= 1


# Gemini CLI 0.61's model router (numerical classifier), as sent when no model is fixed.
ROUTER_SCHEMA = {"type": "OBJECT", "properties": {
    "complexity_reasoning": {"type": "STRING", "description": "Brief explanation for the score."},
    "complexity_score": {"type": "INTEGER", "description": "Complexity score from 1-100."}},
    "required": ["complexity_reasoning", "complexity_score"]}


def gemini_router_request(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}],
            "systemInstruction": {"parts": [{"text": "You are a specialized Task Routing AI."}]},
            "generationConfig": {"temperature": 1, "responseMimeType": "application/json",
                                 "responseJsonSchema": ROUTER_SCHEMA}}


def test_gemini_json_requests_get_json_in_their_schema(fake):
    # The router's request repeats the prompt ("create hello" matches a rule), yet takes no
    # ordinary rule: before, it got "ok" and Gemini CLI retried it for ~100 s.
    url = fake.url + "/v1beta/models/gemini-3.5-flash-lite:generateContent"
    status, _, raw = post(url, gemini_router_request("please create hello.txt"))
    text = json.loads(raw)["candidates"][0]["content"]["parts"][0]["text"]
    assert status == 200 and json.loads(text) == {"complexity_reasoning": "ok", "complexity_score": 1}
    record = fake.requests()[-1]
    assert (record["purpose"], record["reply_kind"], record["rule"]) == ("json", "canned", None)
    use_scenario(fake, {"rules": [{"match": None, "steps": [{"text": "work"}]}, {
        "match": "hello", "purpose": "json", "steps": [{"text": '{"complexity_score": 90}'}]}]})
    raw = post(url, gemini_router_request("please create hello.txt"))[2]
    assert json.loads(raw)["candidates"][0]["content"]["parts"][0]["text"] == '{"complexity_score": 90}'


@pytest.mark.parametrize(("schema", "value"), [
    ({"type": "object", "properties": {"next_speaker": {"type": "string", "enum": ["user", "model"]},
                                       "n": {"type": "number"}, "k": {"type": "integer", "minimum": 5},
                                       "ok": {"type": "boolean"}, "xs": {"type": "array", "items": {}}}},
     {"next_speaker": "user", "n": 0, "k": 5, "ok": False, "xs": []}),
    ({"anyOf": [{"type": ["null", "string"]}]}, "ok"),
    (None, {}),
])
def test_value_for_schema(schema, value):
    assert value_for_schema(schema) == value


# ---------------------------------------------------------------- scenario language

def test_tool_results_never_count_as_human_text(fake):
    # The tool result mentions another rule's match: the rule and the step must not change.
    use_scenario(fake, {"rules": [
        {"match": "other", "steps": [{"text": "wrong rule"}]},
        {"match": "first", "steps": [{"shell": "ls"}, {"shell": "pwd"}, {"text": "end"}]}]})
    url = fake.url + "/v1/chat/completions"
    messages: list[dict] = [{"role": "user", "content": "first task"}]
    for expected in ("ls", "pwd"):
        reply = chat_stream(post(url, opencode_request(messages))[2])
        call = reply["calls"][0]
        assert call["args"]["command"] == expected
        messages += [{"role": "assistant", "content": None, "tool_calls": [
                         {"id": call["id"], "type": "function",
                          "function": {"name": "bash", "arguments": call["arguments"]}}]},
                     {"role": "tool", "tool_call_id": call["id"], "content": "other stuff"}]
    assert chat_stream(post(url, opencode_request(messages))[2])["text"] == "end"
    assert {r["rule"] for r in fake.requests()} == {1}


def test_raw_tools_several_calls_and_unmapped_steps(fake):
    use_scenario(fake, {"rules": [{"match": None, "steps": [
        {"tool": "Read", "input": {"file_path": "/etc/hosts"}},
        {"tools": [{"tool": "Glob", "input": {"pattern": "*.py"}}, {"shell": "ls"},
                   {"write": "/abs/x.txt", "content": "x"}]},
    ]}]})
    url = fake.url + "/v1/messages"
    messages = [claude_prompt("go")]
    first = anthropic_message(sse(post(url, claude_request(messages))[2]))
    assert [(b["name"], b["input"]) for b in first["content"]] == [
        ("Read", {"file_path": "/etc/hosts"})]
    messages += [{"role": "assistant", "content": first["content"]},
                 {"role": "user", "content": [{"type": "tool_result",
                                               "tool_use_id": first["content"][0]["id"]}]}]
    second = anthropic_message(sse(post(url, claude_request(messages))[2]))
    assert [b["name"] for b in second["content"]] == ["Glob", "Bash", "Write"]
    assert second["content"][2]["input"]["file_path"] == "/abs/x.txt"  # absolute stays as is
    assert len({b["id"] for b in second["content"]}) == 3

    # Tools offered, but no shell or write tool among them: say so in the text, call nothing.
    use_scenario(fake, {"rules": [{"match": None, "steps": [{"shell": "ls"}]}]})
    body = claude_request([claude_prompt("go")])
    body["tools"] = [CLAUDE_TOOLS[2]]
    reply = anthropic_message(sse(post(url, body)[2]))
    assert reply["content"][0]["text"] == "(fakellm: no shell tool offered for: ls)"


def test_read_steps_map_to_each_clis_read_tool(fake):
    # Qwen Code refuses to overwrite a file it has not read in the session (e.g. after a resume).
    use_scenario(fake, {"rules": [{"match": None, "notools": True, "steps": [
        {"read": "hello.txt"}]}]})
    chat = fake.url + "/v1/chat/completions"
    prompt = [{"role": "user", "content": "fix it"}]
    [call] = chat_stream(post(chat, qwen_request(prompt))[2])["calls"]
    assert (call["name"], call["args"]) == ("read_file", {"file_path": "/home/q/project/hello.txt"})
    [call] = chat_stream(post(chat, opencode_request(prompt))[2])["calls"]
    assert (call["name"], call["args"]) == ("read", {"filePath": "/repo/hello.txt"})
    [block] = anthropic_message(sse(post(fake.url + "/v1/messages",
                                         claude_request([claude_prompt("fix")]))[2]))["content"]
    assert (block["name"], block["input"]) == ("Read", {"file_path": "/repo/hello.txt"})
    items = [{"role": "user", "content": "fix it"}]
    [item] = responses_stream(post(fake.url + "/v1/responses", codex_request(items))[2])["output"]
    assert json.loads(item["arguments"]) == {"cmd": "cat hello.txt"}
    assert chat_stream(post(chat, aider_request("fix it"))[2])["text"] == ""


def test_tool_call_ids_differ_between_server_runs(tmp_path):
    # A resumed session replays the old transcript to a new server: ids must not repeat.
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(SCENARIO))
    ids = []
    for _ in range(2):
        with FakeModelServer(scenario) as server:
            for _ in range(2):
                reply = anthropic_message(sse(post(server.url + "/v1/messages",
                                                   claude_request([claude_prompt("create hello")]))[2]))
                ids.append(reply["content"][1]["id"])
    assert len(set(ids)) == 4


@pytest.mark.parametrize("status,anthropic_type", [(500, "api_error"), (429, "rate_limit_error"),
                                                   (400, "invalid_request_error")])
def test_error_steps_in_each_api_shape(fake, status, anthropic_type):
    use_scenario(fake, {"rules": [{"match": None, "steps": [
        {"error": status, "message": "boom"}]}]})
    code, headers, raw = post(fake.url + "/v1/messages", claude_request([claude_prompt("x")]))
    assert code == status and json.loads(raw) == {
        "type": "error", "error": {"type": anthropic_type, "message": "boom"}}
    assert ("retry-after" in headers) == (status == 429)
    code, _, raw = post(fake.url + "/v1/chat/completions",
                        opencode_request([{"role": "user", "content": "x"}]))
    assert code == status and json.loads(raw)["error"]["message"] == "boom"
    code, _, raw = post(fake.url + "/v1/responses", codex_request([]))
    assert code == status and json.loads(raw)["error"]["message"] == "boom"
    code, _, raw = post(fake.url + "/v1beta/models/m:streamGenerateContent?alt=sse",
                        gemini_request([{"role": "user", "parts": [{"text": "x"}]}]))
    assert code == status and json.loads(raw)["error"]["code"] == status
    assert {r["reply_kind"] for r in fake.requests()} == {"error"}


def test_limited_errors_let_a_retry_through(fake):
    use_scenario(fake, {
        "errors": [{"match": "flaky", "status": 429, "message": "slow down", "times": 2}],
        "rules": [{"match": None, "steps": [{"error": 500, "times": 1}, {"text": "recovered"}]}]})
    url = fake.url + "/v1/chat/completions"
    body = opencode_request([{"role": "user", "content": "flaky please"}], stream=False)
    codes = [post(url, body)[0] for _ in range(4)]
    assert codes == [429, 429, 500, 200]
    assert json.loads(post(url, body)[2])["choices"][0]["message"]["content"] == "recovered"


def test_scenario_is_re_read_on_every_request(fake):
    url = fake.url + "/v1/chat/completions"
    body = opencode_request([{"role": "user", "content": "hi"}], stream=False)
    assert json.loads(post(url, body)[2])["choices"][0]["message"]["content"] == "catch-all"
    use_scenario(fake, {"rules": [{"match": "HI", "steps": [{"text": "changed"}]}]})
    assert json.loads(post(url, body)[2])["choices"][0]["message"]["content"] == "changed"
    fake.scenario_path.write_text("{not json")
    code, _, raw = post(url, body)
    assert code == 500 and "not JSON" in json.loads(raw)["error"]["message"]
    assert fake.requests()[-1]["reply_kind"] == "scenario_error"


def test_past_the_last_step_says_done(fake):
    use_scenario(fake, {"rules": [{"match": None, "steps": []}]})
    body = opencode_request([{"role": "user", "content": "hi"}], stream=False)
    reply = json.loads(post(fake.url + "/v1/chat/completions", body)[2])
    assert reply["choices"][0]["message"]["content"] == "done"


@pytest.mark.parametrize("bad", [
    [], {"rules": {}}, {"rules": [{"steps": [{"bogus": 1}]}]}, {"rules": [{"match": 3}]},
    {"rules": [{"steps": [{"input": {}}]}]}, {"rules": [{"purpose": "x"}]},
    {"errors": [{"status": "500"}]}, {"rules": [], "extra": 1},
    {"rules": [{"steps": [{"tools": [{"text": "no"}]}]}]}, {"rules": [{"steps": [{"text": 3}]}]},
    {"rules": [{"steps": [{"error": True}]}]}, {"rules": [{"steps": [{"tools": {}}]}]},
])
def test_malformed_scenarios_are_rejected(bad):
    with pytest.raises(ScenarioError):
        parse_scenario(bad)


def test_start_refuses_a_bad_scenario_and_non_loopback_hosts(tmp_path):
    with pytest.raises(ScenarioError):
        FakeModelServer(tmp_path / "missing.json").start()
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        with pytest.raises(ValueError, match="loopback"):
            FakeModelServer(tmp_path / "s.json", host=host)


def test_ipv6_loopback(tmp_path):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(SCENARIO))
    try:
        server = FakeModelServer(scenario, host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        assert server.url.startswith("http://[::1]:")
        assert get(server.url + "/v1/models")[0] == 200


# ---------------------------------------------------------------- routes, log

def test_models_unknown_paths_and_bad_bodies(fake):
    status, raw = get(fake.url + "/v1/models")
    assert status == 200 and "fake-model" in [m["id"] for m in json.loads(raw)["data"]]
    status, raw = get(fake.url + "/nope")
    assert status == 404 and "no route" in json.loads(raw)["error"]["message"]
    assert post(fake.url + "/v1/embeddings", {})[0] == 404
    status, _, raw = post(fake.url + "/v1/chat/completions", b"{broken")
    assert status == 400 and "fakellm" in json.loads(raw)["error"]["message"]
    # A body of an unexpected shape is answered (500, logged), not a dropped connection.
    status, _, raw = post(fake.url + "/v1/messages", {"messages": "not a list", "stream": True})
    assert status == 500 and json.loads(raw)["type"] == "error"
    assert fake.requests()[-1]["reply_kind"] == "server_error"


def test_keep_alive_json_then_sse_on_one_connection(fake):
    # JSON replies keep the connection open (Content-Length); SSE replies close it.
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    body = json.dumps(opencode_request([{"role": "user", "content": "hi"}], stream=False))
    for _ in range(2):
        conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["object"] == "chat.completion"
    conn.request("POST", "/v1/chat/completions", json.dumps(opencode_request(
        [{"role": "user", "content": "hi"}])), {"content-type": "application/json"})
    resp = conn.getresponse()
    assert resp.getheader("connection") == "close" and resp.read().endswith(b"data: [DONE]\n\n")
    conn.close()


def test_request_log_file_matches_requests(fake, tmp_path):
    post(fake.url + "/v1/messages?beta=true", claude_request([claude_prompt("create hello")]))
    get(fake.url + "/v1/models")
    lines = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert lines == fake.requests()
    first = lines[0]
    for key in ("time", "path", "api", "model", "human_text", "step", "rule", "reply_kind"):
        assert key in first
    assert (first["path"], first["api"], first["model"]) == (
        "/v1/messages?beta=true", "anthropic", "fake-model")
    assert (first["human_text"], first["step"], first["rule"]) == ("create hello", 0, 0)
    assert (first["reply_kind"], first["tool_calls"], first["status"]) == (
        "tool_calls", ["Write"], 200)
    assert lines[1]["reply_kind"] == "models"


def test_command_line_entry_point(tmp_path):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(SCENARIO))
    proc = subprocess.Popen([sys.executable, "-m", "agent_dispatch.testing.fakellm",
                             "--scenario", str(scenario), "--log", str(tmp_path / "log.jsonl")],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening http://127.0.0.1:")
        url = line.split()[1]
        body = opencode_request([{"role": "user", "content": "hi"}], stream=False)
        assert post(url + "/v1/chat/completions", body)[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 1
    bad = subprocess.run([sys.executable, "-m", "agent_dispatch.testing.fakellm", "--scenario",
                          str(tmp_path / "missing.json")], check=False, capture_output=True, text=True)
    assert bad.returncode == 2 and "cannot read scenario" in bad.stderr


# ---------------------------------------------------------------- loopback-only namespace

_INSIDE = """
import json, socket, sys, time, urllib.request
from pathlib import Path
from agent_dispatch.testing.fakellm import FakeModelServer
out = {"interfaces": [name for _, name in socket.if_nameindex()]}
started = time.monotonic()
try:
    socket.create_connection(("10.255.255.1", 80), timeout=5).close()
    out["outside"] = "connected"
except OSError as exc:
    out["outside"] = type(exc).__name__
out["outside_secs"] = time.monotonic() - started
with FakeModelServer(Path(sys.argv[1])) as server:
    with urllib.request.urlopen(server.url + "/v1/models", timeout=5) as resp:
        out["loopback_status"] = resp.status
print(json.dumps(out))
"""


@pytest.mark.skipif(not netns_available(), reason="cannot create network namespaces here")
def test_loopback_only_namespace(tmp_path):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps(SCENARIO))
    argv = loopback_only_argv([sys.executable, "-c", _INSIDE, str(scenario)])
    assert argv[:2] in (["unshare", "-n"], ["unshare", "--map-current-user"])
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["interfaces"] == ["lo"]
    assert out["outside"] != "connected" and out["outside_secs"] < 1
    assert out["loopback_status"] == 200


def test_loopback_only_argv_keeps_arguments_verbatim():
    argv = loopback_only_argv(["echo", "$(rm -rf /)", "a b"])
    assert argv[-3:] == ["echo", "$(rm -rf /)", "a b"]
    assert argv[argv.index("--exec"):][:2] == ["--exec", "--"]
    with pytest.raises(ValueError):
        loopback_only_argv([])


# ---------------------------------------------------------------- real CLIs (opt-in, slow)

REAL_SCENARIO = {"rules": [{"match": "create hello", "notools": True, "steps": [
    {"text": "Writing the file.", "write": "hello.txt", "content": "hello from fake model\n"},
    {"shell": "echo bash-ran > bash_out.txt"},
    {"text": "All done."}]}]}

def real_cli_setup(cli: str, binary: str, home: Path, url: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that point ``cli`` at the fake server at ``url``, its config
    written under ``home``. Per-CLI settings are the quiet, offline ones, written here by hand
    (not by the adapters): this checks the server against each CLI, not our adapters."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    quiet = {"privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False},
             "general": {"disableAutoUpdate": True, "disableUpdateNag": True}}
    prompt = "please create hello.txt"
    if cli == "claude":
        env.update(ANTHROPIC_BASE_URL=url, ANTHROPIC_API_KEY="sk-ant-dummy",
                   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1",
                   DISABLE_TELEMETRY="1", DISABLE_ERROR_REPORTING="1", CLAUDE_CODE_MAX_RETRIES="0")
        argv = [binary, "-p", prompt, "--output-format", "stream-json", "--verbose", "--model",
                "fake-model", "--permission-mode", "acceptEdits", "--allowedTools", "Bash"]
    elif cli == "codex":
        codex_home = home / ".codex"
        codex_home.mkdir(parents=True)
        (codex_home / "config.toml").write_text(
            'model = "fake-model"\nmodel_provider = "fake"\napproval_policy = "never"\n'
            'sandbox_mode = "danger-full-access"\ncheck_for_update_on_startup = false\n'
            f'[model_providers.fake]\nname = "fake"\nbase_url = "{url}/v1"\n'
            'env_key = "FAKE_API_KEY"\nwire_api = "responses"\n'
            '[features]\nplugins = false\nremote_plugin = false\napps = false\n'
            '[analytics]\nenabled = false\n[feedback]\nenabled = false\n')
        env.update(CODEX_HOME=str(codex_home), FAKE_API_KEY="dummy")
        argv = [binary, "exec", "--json", prompt]
    elif cli in ("gemini", "qwen"):
        settings = home / f".{cli}" / "settings.json"
        settings.parent.mkdir(parents=True)
        auth = "gemini-api-key" if cli == "gemini" else "openai"
        settings.write_text(json.dumps({**quiet, "security": {"auth": {"selectedType": auth}}}))
        if cli == "gemini":
            env.update(GEMINI_API_KEY="dummy", GOOGLE_GEMINI_BASE_URL=url)
            argv = [binary, "-m", "gemini-2.5-flash", "--output-format", "stream-json", "--yolo",
                    "--skip-trust", "-p", prompt]
        else:
            env.update(OPENAI_API_KEY="dummy", OPENAI_BASE_URL=url + "/v1", OPENAI_MODEL="fake-model")
            argv = [binary, "--auth-type", "openai", "--output-format", "stream-json", "--yolo",
                    prompt]
    elif cli == "opencode":
        config = home / "opencode.json"
        home.mkdir(parents=True)
        config.write_text(json.dumps({"autoupdate": False, "share": "disabled",
            "model": "fake/fake-model", "small_model": "fake/fake-model", "provider": {"fake": {
                "npm": "@ai-sdk/openai-compatible",
                "options": {"baseURL": url + "/v1", "apiKey": "dummy"},
                "models": {"fake-model": {"tool_call": True,
                                          "limit": {"context": 128000, "output": 8192}}}}}}))
        env.update({f"XDG_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "DATA", "CACHE", "STATE")})
        env.update(OPENCODE_CONFIG=str(config), OPENCODE_DISABLE_AUTOUPDATE="1",
                   OPENCODE_DISABLE_MODELS_FETCH="1", OPENCODE_DISABLE_LSP_DOWNLOAD="1",
                   OPENCODE_DISABLE_SHARE="1", OPENCODE_DISABLE_DEFAULT_PLUGINS="1")
        argv = [binary, "run", "--pure", "--format", "json", prompt]
    else:  # aider: its price-list download is skipped only with a non-empty cache
        cache = home / ".aider" / "caches" / "model_prices_and_context_window.json"
        cache.parent.mkdir(parents=True)
        cache.write_text(json.dumps({"fake-model": {"max_input_tokens": 128000, "max_tokens": 8192,
                                                    "litellm_provider": "openai", "mode": "chat"}}))
        argv = [binary, "--model", "openai/fake-model", "--openai-api-base", url + "/v1",
                "--openai-api-key", "dummy", "--yes-always", "--no-check-update",
                "--analytics-disable", "--no-show-release-notes", "--no-show-model-warnings",
                "--no-pretty", "--no-fancy-input", "--no-gitignore", "--edit-format", "whole",
                "--message", prompt]
    return argv, env


REAL_CLIS = ("claude", "codex", "gemini", "qwen", "opencode", "aider")
RUN_REAL_CLIS = os.environ.get("FAKELLM_REAL_CLIS") == "1" or no_skips()


# Slow (5-30 s per CLI), so opt-in even when the CLIs are installed: FAKELLM_REAL_CLIS=1 (or CI's
# DISPATCH_NO_SKIP=1). tests/test_conformance.py drives the same CLIs through the engine.
# The `realcli` fixture (tests/realcli.py) checks the CLI each case names and runs it, with the
# server, inside a loopback-only network namespace.
@pytest.mark.slow
@pytest.mark.skipif(not RUN_REAL_CLIS, reason="set FAKELLM_REAL_CLIS=1 to drive the real CLIs")
@pytest.mark.parametrize("cli", [pytest.param(cli, marks=pytest.mark.realcli(cli)) for cli in REAL_CLIS])
def test_real_cli_writes_a_file_and_runs_a_command(cli: str, tmp_path: Path, realcli: RealCLI):
    work = tmp_path / "work"
    work.mkdir()
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "init"]):
        subprocess.run(["git", *args], cwd=work, check=True)
    argv, env = real_cli_setup(cli, realcli.binary, realcli.home, realcli.base_url)
    run = realcli.run(argv, scenario=REAL_SCENARIO, cwd=work, env=env, timeout=300)
    assert run.exit_code == 0, run.log
    assert (work / "hello.txt").read_text() == "hello from fake model\n", run.log
    if cli != "aider":  # aider never runs model-suggested shell commands headless
        assert (work / "bash_out.txt").read_text() == "bash-ran\n", run.log
    served = run.requests
    assert all(r["status"] == 200 for r in served)
    work_replies = [r["reply_kind"] for r in served if r["purpose"] == "work"]
    assert work_replies == (["text"] if cli == "aider" else ["tool_calls", "tool_calls", "text"])
    housekeeping = {r["purpose"]: r["reply_kind"] for r in served if r["purpose"] != "work"}
    assert housekeeping == {"aider": {"commit-message": "canned"},
                            "opencode": {"title": "canned"}}.get(cli, {})


def test_codex_code_mode_request_is_refused_with_the_cli_model_and_fix(fake):
    """Codex's built-in models (e.g. its default) get their tools only as an `additional_tools`
    input item for JavaScript `exec`: the fake cannot call them, and says so instead of "ok"."""
    body = codex_request([{"type": "message", "role": "user",
                           "content": [{"type": "input_text", "text": "create hello"}]}])
    del body["tools"]
    body["model"] = "gpt-6.2-sol"
    body["input"].insert(0, {"type": "additional_tools", "role": "developer", "tools": [
        {"type": "namespace", "name": "functions", "tools": [
            {"type": "custom", "name": "exec"}, {"type": "function", "name": "wait"}]},
        {"type": "namespace", "name": "clock", "tools": [{"type": "function", "name": "sleep"}]}]})
    status, _, raw = post(fake.url + "/v1/responses", body)
    message = json.loads(raw)["error"]["message"]
    assert status == 400 and message.startswith("fakellm: no tools offered: Codex")
    assert "'gpt-6.2-sol'" in message and "model: fake-model" in message
    [record] = fake.requests()
    assert record["reply_kind"] == "no_tools" and record["tools"] == 0 and record["code_mode_tools"] == 3
    assert record["error"] == message
