"""The HTTP side of the fake model: routing, SSE/JSON writing, the request log."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import secrets
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from . import wire
from .scenario import Budgets, Conversation, Reply, ScenarioError, load_scenario, plan_reply

LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}
MODELS = ("fake-model", "claude-fake", "gpt-fake", "gemini-2.5-flash")
_GEMINI_PATH = re.compile(r"/models/([^/:]+):(streamGenerateContent|generateContent|countTokens)$")
_LOGGED_TEXT = 4000  # characters of human text kept per log line


class FakeModelServer:
    """A scripted model server on loopback that speaks the Anthropic, OpenAI and Gemini APIs.

    ``scenario`` is re-read on every request, so a test can rewrite it between turns.
    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, scenario: Path, log: Path | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        if host not in LOOPBACK_HOSTS:
            # Why: it runs arbitrary scripted tool calls; it must never be reachable off-box.
            raise ValueError(
                f"fakellm only binds loopback (127.0.0.1, ::1, localhost), not {host!r}")
        self.scenario_path = Path(scenario)
        self.log_path = Path(log) if log is not None else None
        self.host = LOOPBACK_HOSTS[host]
        self.port = port
        self._budgets = Budgets()
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        # Why random: ids must not repeat across server runs, or a resumed session (new server,
        # old transcript) holds two tool calls with one id and the CLI drops one of them.
        self._id_prefix = secrets.token_hex(4)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765`` (append ``/v1`` for OpenAI-style clients)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        """Check the scenario, bind, and serve from a daemon thread (no-op when running)."""
        if self._httpd is not None:
            return self
        load_scenario(self.scenario_path)  # fail here, not on the first request
        server_class = _IPv6Server if ":" in self.host else _Server
        self._httpd = server_class((self.host, self.port), _Handler)
        self._httpd.fake = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={
            "poll_interval": 0.05}, name=f"fakellm:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests(self) -> list[dict[str, Any]]:
        """Every request served so far, as the records written to the log."""
        with self._lock:
            return [dict(r) for r in self._records]

    # -- request handling, independent of the socket -------------------------------------

    def respond(self, method: str, target: str, raw: bytes) -> wire.Json | wire.Sse:
        """Answer one request; also records it."""
        path = urlsplit(target).path
        record: dict[str, Any] = {"time": datetime.now(UTC).isoformat(
            timespec="milliseconds"), "method": method, "path": target, "api": None,
            "model": None, "human_text": None, "step": None, "rule": None}
        try:
            out = self._route(method, path, raw, record)
        except Exception as exc:  # noqa: BLE001 - a crash would drop the socket and the CLI retry
            record.update(reply_kind="server_error", error=f"{type(exc).__name__}: {exc}")
            out = wire.render_error(record["api"] or "chat", 500,
                                    f"fakellm: cannot handle this request: {record['error']}")
        record["status"] = out.status if isinstance(out, wire.Json) else 200
        self._record(record)
        return out

    def _route(self, method: str, path: str, raw: bytes, record: dict[str, Any]
               ) -> wire.Json | wire.Sse:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            record["reply_kind"] = "models"
            return wire.Json(200, _models_list())
        gemini = _GEMINI_PATH.search(path)
        api = ("count_tokens" if path.endswith("/messages/count_tokens") else
               "anthropic" if path.endswith("/messages") else
               "chat" if path.endswith("/chat/completions") else
               "responses" if path.endswith("/responses") else
               "gemini" if gemini else None)
        if method != "POST" or api is None:
            record["reply_kind"] = "not_found"
            return wire.Json(404, {"error": {"message": f"fakellm: no route for {method} {path}",
                                             "type": "not_found", "code": 404}})
        record["api"] = api
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            body = f"request body is not JSON: {exc}"
        if not isinstance(body, dict):
            record["reply_kind"] = "bad_request"
            problem = body if isinstance(body, str) else "request body is not a JSON object"
            return wire.render_error(api, 400, f"fakellm: {problem}")
        if api == "count_tokens":
            record["reply_kind"] = "count_tokens"
            return wire.Json(200, {"input_tokens": max(1, len(raw) // 4)})
        if gemini and gemini.group(2) == "countTokens":
            record.update(api="gemini", model=gemini.group(1), reply_kind="count_tokens")
            return wire.Json(200, {"totalTokens": max(1, len(raw) // 4)})
        return self._model_turn(api, body, len(raw), gemini, record)

    def _model_turn(self, api: str, body: dict[str, Any], size: int, gemini: re.Match | None,
                    record: dict[str, Any]) -> wire.Json | wire.Sse:
        convo = (wire.parse_gemini(body, gemini.group(1)) if gemini else
                 wire.parse_anthropic(body) if api == "anthropic" else
                 wire.parse_chat(body) if api == "chat" else wire.parse_responses(body))
        stream = gemini.group(2) == "streamGenerateContent" if gemini else bool(body.get("stream"))
        record.update(model=convo.model, stream=stream, human_text=convo.human_text[:_LOGGED_TEXT],
                      step=convo.step, purpose=convo.purpose, tools=len(convo.tools))
        if convo.code_mode_tools:
            record["code_mode_tools"] = convo.code_mode_tools
        try:
            reply = plan_reply(load_scenario(self.scenario_path), convo, self._budgets)
        except ScenarioError as exc:
            reply = Reply(error=(500, f"fakellm: {exc}"), kind="scenario_error")
        record.update(rule=reply.rule, reply_kind=reply.kind,
                      tool_calls=[c.name for c in reply.calls])
        if reply.error is not None:
            record["error"] = reply.error[1]
            return wire.render_error(api, *reply.error)
        return self._render(api, reply, convo, size, stream, body)

    def _render(self, api: str, reply: Reply, convo: Conversation, size: int, stream: bool,
                body: dict[str, Any]) -> wire.Json | wire.Sse:
        usage = wire.usage_for(size, reply)
        ref = f"{self._id_prefix}{next(self._seq):04d}"
        if api == "anthropic":
            return wire.render_anthropic(reply, convo, usage, ref, stream)
        if api == "chat":
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return wire.render_chat(reply, convo, usage, ref, stream, include)
        if api == "responses":
            return wire.render_responses(reply, convo, usage, ref, stream)
        return wire.render_gemini(reply, convo, usage, ref, stream)

    def _record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")


def _models_list() -> dict[str, Any]:
    # One list readable as both OpenAI's and Anthropic's /v1/models shape.
    data = [{"id": m, "object": "model", "type": "model", "display_name": m, "created": 0,
             "created_at": "1970-01-01T00:00:00Z", "owned_by": "fakellm"} for m in MODELS]
    return {"object": "list", "data": data, "has_more": False, "first_id": MODELS[0],
            "last_id": MODELS[-1]}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    # Why HTTP/1.1: the Node and Rust clients expect it; JSON replies carry Content-Length and
    # SSE replies say "connection: close" and end by closing the socket.
    protocol_version = "HTTP/1.1"
    server_version = "fakellm/1"

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the JSONL request log is the record; keep stderr quiet

    def _answer(self, method: str) -> None:
        fake: FakeModelServer = self.server.fake  # type: ignore[attr-defined]
        try:
            raw = self._read_body()
        except ValueError as exc:
            self._write_json(wire.Json(415, {"error": {"message": f"fakellm: {exc}"}}))
            return
        out = fake.respond(method, self.path, raw)
        try:
            if isinstance(out, wire.Sse):
                self._write_sse(out)
            else:
                self._write_json(out)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up; nothing to tell it

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        encoding = self.headers.get("content-encoding", "").lower()
        if encoding == "gzip":
            try:
                return gzip.decompress(raw)
            except (OSError, EOFError) as exc:
                raise ValueError(f"bad gzip request body: {exc}") from exc
        if encoding not in ("", "identity"):
            raise ValueError(f"unsupported request content-encoding {encoding!r}")
        return raw

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _write_json(self, out: wire.Json) -> None:
        data = json.dumps(out.body).encode()
        self.send_response(out.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in out.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _write_sse(self, out: wire.Sse) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        for name, data in out.events:
            payload = data if isinstance(data, str) else json.dumps(data)
            head = f"event: {name}\n" if name else ""
            self.wfile.write(f"{head}data: {payload}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True
