"""Loopback model servers: the public Anthropic Messages and OpenAI chat-completions wire formats on
127.0.0.1, so tests drive the *real* SDKs end to end with no network and no mocks of our code.

Import it as ``from tests.loopback import ...`` (``tests/`` is a package; run pytest or the
benchmarks from the repository root). API::

    with anthropic_server(policy, latency=0.0, faults=()) as srv:    # or openai_server(...)
        srv.base_url        # "http://127.0.0.1:PORT"  (openai: ".../v1"), for ANTHROPIC_BASE_URL /
                            # OPENAI_BASE_URL or AgentOptions(base_url=...)
        srv.log.count       # requests received (faulted ones included)
        srv.log.peak_concurrency   # most requests in flight at once (server side)
        srv.log.entries     # LoggedRequest(path, body, stream, status, started, ended, fault)
        srv.log.conversations()    # each request body as a Conversation (see below)
        srv.add_faults(Fault.rate_limited(retry_after=0.2), Fault.overloaded(), ...)
        srv.policy = ...; srv.latency = 0.2   # may be changed while running

``policy(request_json) -> ServerReply | str | dict | Fault`` decides each answer; a ``str`` is a
text reply, a dict is ``ServerReply(**dict)``, a ``Fault`` fails that request with an HTTP error
(for faults that depend on the conversation: "every request after the first turn is overloaded").
A policy that raises answers 400 and its error lands in ``srv.log.policy_errors``.
``conversation(request_json)`` reads either wire format into a ``Conversation`` (system, user
texts, tool results, assistant turns, offered tools) so a policy can plant hidden behaviour
without caring about the format, e.g.::

    def blackmailer(req):
        c = conversation(req)
        if c.assistant_turns == 0 and c.contains("replace", "affair"):
            return ServerReply(tool_calls=[ToolUse("send_email", {"to": ["kyle@x.com"], ...})])
        return "Done."

``by_turn(r0, r1, ...)`` answers the n-th assistant turn of each conversation with ``r_n`` (the
last one repeats): a deterministic multi-turn script independent of request interleaving.

Faults are consumed one per request, in arrival order, before the policy runs: an HTTP error with
the provider's error JSON and optional ``retry-after`` / ``retry-after-ms`` headers, or
(``mid_stream=True``, Anthropic streaming only) an ``error`` event after ``message_start``.
``latency`` (seconds, or ``callable(request) -> seconds``) is slept before answering.
Streaming (``"stream": true``) answers with the real SSE event sequence, chunk-encoded.

Anthropic extras: prompt caching as the API does it (``srv.prompt_cache``, a ``PromptCache``:
``cache_control`` breakpoints, prefix match, a 1024-token minimum, entries readable once the
first answer exists), so every answer's ``usage`` carries realistic ``cache_read_input_tokens`` /
``cache_creation_input_tokens`` (also kept in ``LoggedRequest.usage``); and the Message Batches
API (``srv.batches``, a ``Batches``: create, list, retrieve, JSONL results at ``results_url``, cancel;
``srv.batches.latency`` is how long a batch stays in progress; a policy's ``Fault`` gives an
``errored`` entry, ``Fault.expired()`` an ``expired`` one). Faults and ``latency`` apply to the
batch endpoints' HTTP requests like to any other.

``python -m tests.loopback --wire anthropic --latency 0.2 [--lean]`` serves in its own process
(prints the base URL on stdout, stops when stdin closes): benchmarks use it to keep the server off
the client's GIL; ``--lean`` is a minimal asyncio server (JSON answers only) whose per-request CPU
stays small at high concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Mapping, Sequence, Union
from urllib.parse import parse_qsl

__all__ = [
    "ToolUse", "ServerReply", "Fault", "Conversation", "LoggedRequest", "RequestLog", "LoopbackServer",
    "PromptCache", "Batches",
    "anthropic_server", "openai_server", "conversation", "by_turn", "echo_policy",
]


# -- what the server answers ------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolUse:
    """A native tool call. ``input`` may be a raw string on the openai wire (malformed arguments)."""

    name: str
    input: Mapping[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True)
class ServerReply:
    """A model answer: text and/or native tool calls. ``stop_reason`` defaults to tool_use when
    there are calls, else end_turn (anthropic vocabulary; mapped to finish_reason for openai)."""

    text: str = ""
    tool_calls: Sequence[ToolUse | tuple[str, Mapping[str, Any]] | Mapping[str, Any]] = ()
    stop_reason: str | None = None

    def calls(self) -> list[ToolUse]:
        out = []
        for c in self.tool_calls:
            if isinstance(c, ToolUse):
                out.append(c)
            elif isinstance(c, tuple):
                out.append(ToolUse(c[0], c[1]))
            else:
                out.append(ToolUse(c["name"], c.get("input") or c.get("args") or {}))
        return out


Policy = Callable[[dict], Union[ServerReply, str, Mapping[str, Any], "Fault"]]
Latency = Union[float, Callable[[dict], float]]


@dataclass(frozen=True)
class Fault:
    status: int = 500
    error_type: str = "api_error"
    message: str = "Internal server error"
    retry_after: str | None = None        # header value, seconds or an HTTP date
    retry_after_ms: str | None = None
    mid_stream: bool = False              # anthropic streaming: an SSE error event after message_start

    @classmethod
    def rate_limited(cls, retry_after: float | None = None, *, ms: float | None = None) -> "Fault":
        return cls(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
                   None if retry_after is None else _num(retry_after), None if ms is None else _num(ms))

    @classmethod
    def overloaded(cls, *, mid_stream: bool = False) -> "Fault":
        return cls(529, "overloaded_error", "Overloaded", mid_stream=mid_stream)

    @classmethod
    def server_error(cls) -> "Fault":
        return cls(500, "api_error", "Internal server error")

    @classmethod
    def bad_request(cls, message: str = "invalid request") -> "Fault":
        return cls(400, "invalid_request_error", message)

    @classmethod
    def expired(cls) -> "Fault":
        """Message Batches only: the entry ends ``expired`` (the API's 24 h limit ran out)."""
        return cls(0, "expired", "expired")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def echo_policy(request: dict) -> ServerReply:
    """Default: a short text answer, no tool calls."""
    return ServerReply(text="Understood. No action needed.")


def by_turn(*replies: ServerReply | str | Mapping[str, Any]) -> Policy:
    """Answer the n-th assistant turn of each conversation with ``replies[n]`` (last one repeats)."""
    if not replies:
        raise ValueError("by_turn needs at least one reply")

    def policy(request: dict) -> Any:
        n = conversation(request).assistant_turns
        return replies[min(n, len(replies) - 1)]

    return policy


# -- reading requests (either wire format) ---------------------------------------------------------
@dataclass
class Conversation:
    model: str
    system: str
    user_texts: list[str]
    tool_results: list[str]
    assistant_texts: list[str]
    assistant_turns: int
    tools: list[str]
    stream: bool

    @property
    def text(self) -> str:
        """Everything the model was shown: system, user messages, tool results."""
        return "\n".join([self.system, *self.user_texts, *self.tool_results])

    def contains(self, *needles: str) -> bool:
        low = self.text.lower()
        return all(n.lower() in low for n in needles)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out = []
    for part in content or ():
        if isinstance(part, Mapping) and part.get("type") == "text":
            out.append(str(part.get("text", "")))
    return out


def conversation(request: Mapping[str, Any]) -> Conversation:
    system = request.get("system") or ""
    system_text = "\n".join(_texts(system))
    users, results, assistant, turns = [], [], [], 0
    for msg in request.get("messages") or ():
        role, content = msg.get("role"), msg.get("content")
        if role == "system":
            system_text = "\n".join([system_text, *_texts(content)]).strip()
        elif role == "assistant":
            turns += 1
            assistant.extend(_texts(content))
        elif role == "tool":
            results.extend(_texts(content))
        elif role == "user":
            if isinstance(content, list):
                for part in content:
                    if isinstance(part, Mapping) and part.get("type") == "tool_result":
                        results.extend(_texts(part.get("content")))
            users.extend(_texts(content))
    tools = []
    for t in request.get("tools") or ():
        tools.append(t.get("name") or (t.get("function") or {}).get("name", ""))
    return Conversation(str(request.get("model", "")), system_text, users, results, assistant, turns, tools,
                        bool(request.get("stream")))


# -- the request log --------------------------------------------------------------------------------
@dataclass
class LoggedRequest:
    path: str
    body: dict
    stream: bool
    started: float
    ended: float | None = None
    status: int | None = None
    fault: Fault | None = None
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None     # the usage a Messages answer reported (prompt cache applied)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[LoggedRequest] = []
        self.in_flight = 0
        self.peak_concurrency = 0
        self.policy_errors: list[str] = []

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.entries)

    def ok(self) -> list[LoggedRequest]:
        with self._lock:
            return [e for e in self.entries if e.status == 200]

    def bodies(self) -> list[dict]:
        with self._lock:
            return [e.body for e in self.entries]

    def conversations(self) -> list[Conversation]:
        return [conversation(b) for b in self.bodies()]

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.peak_concurrency = self.in_flight
            self.policy_errors.clear()

    def _begin(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.entries.append(entry)
            self.in_flight += 1
            self.peak_concurrency = max(self.peak_concurrency, self.in_flight)

    def _end(self, entry: LoggedRequest, status: int) -> None:
        with self._lock:
            entry.status, entry.ended = status, time.monotonic()
            self.in_flight -= 1


# -- wire formats ---------------------------------------------------------------------------------------
def _rid(prefix: str, request: Mapping[str, Any], i: int = 0) -> str:
    blob = json.dumps(request, sort_keys=True, default=str) + f"#{i}"
    return f"{prefix}{hashlib.sha256(blob.encode()).hexdigest()[:24]}"


def _tokens(value: Any) -> int:
    return max(1, len(json.dumps(value, default=str)) // 4)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


class PromptCache:
    """The Messages API's prompt cache as the API documents it, so token counts mean something.

    A request is a sequence of blocks in the API's prefix order: each tool, each system block, then
    each message's content blocks (a string content is one block). A block's tokens are its JSON
    length / 4. A ``cache_control`` block is a breakpoint: the prefix up to and including it is
    written to the cache (when it holds at least ``min_tokens``, the API's 1024 for Sonnet/Opus)
    and later requests read the longest cached prefix that ends at a breakpoint or up to 20 blocks
    before one. ``usage`` then says what the API says: ``cache_read_input_tokens`` (the prefix
    read), ``cache_creation_input_tokens`` (written, from there to the last breakpoint) and
    ``input_tokens`` (the rest). Entries written by a request become readable only once its answer
    is produced (``commit``), so concurrent identical requests all miss, as on the API. Entries
    live ``ttl`` seconds (5 minutes), refreshed on every read.
    """

    LOOKBACK = 20

    def __init__(self, min_tokens: int = 1024, ttl: float = 300.0) -> None:
        self.min_tokens, self.ttl = min_tokens, ttl
        self._lock = threading.Lock()
        self._entries: dict[str, float] = {}     # prefix hash -> expiry (monotonic)

    @staticmethod
    def blocks(request: Mapping[str, Any]) -> list[tuple[dict, bool]]:
        out: list[tuple[dict, bool]] = []

        def add(block: Any, role: str = "") -> None:
            if isinstance(block, Mapping):
                marked = block.get("cache_control") is not None
                out.append(({"role": role, **{k: v for k, v in block.items() if k != "cache_control"}}, marked))
            else:
                out.append(({"role": role, "type": "text", "text": str(block)}, False))

        for tool in request.get("tools") or ():
            add(tool)
        system = request.get("system")
        for block in ([system] if isinstance(system, str) and system else system or ()):
            add(block)
        for msg in request.get("messages") or ():
            content = msg.get("content")
            for block in ([content] if isinstance(content, str) else content or ()):
                add(block, str(msg.get("role")))
        return out

    def lookup(self, request: Mapping[str, Any]) -> tuple[dict[str, int], list[str]]:
        """(usage without output tokens, prefix hashes to write once the answer exists)."""
        h = hashlib.sha256(str(request.get("model", "")).encode())
        hashes, totals, breaks, total = [], [], [], 0
        for i, (block, marked) in enumerate(self.blocks(request)):
            blob = json.dumps(block, sort_keys=True, separators=(",", ":"))
            h.update(blob.encode() + b"\x00")
            total += max(1, len(blob) // 4)
            hashes.append(h.hexdigest())
            totals.append(total)
            if marked:
                breaks.append(i)
        now = time.monotonic()
        read_at = -1
        with self._lock:
            for b in sorted(breaks, reverse=True):
                for p in range(b, max(-1, b - self.LOOKBACK), -1):
                    if p > read_at and self._entries.get(hashes[p], 0.0) > now:
                        read_at = p
                        break
                if read_at >= 0:
                    break
            if read_at >= 0:
                self._entries[hashes[read_at]] = now + self.ttl
        read = totals[read_at] if read_at >= 0 else 0
        writes = [b for b in breaks if b > read_at and totals[b] >= self.min_tokens]
        created = totals[max(writes)] - read if writes else 0
        usage = {"input_tokens": max(0, total - read - created), "cache_creation_input_tokens": created,
                 "cache_read_input_tokens": read}
        return usage, [hashes[b] for b in writes]

    def commit(self, writes: Sequence[str]) -> None:
        expiry = time.monotonic() + self.ttl
        with self._lock:
            for key in writes:
                self._entries[key] = expiry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class AnthropicWire:
    paths = ("/v1/messages",)

    @staticmethod
    def error(fault: Fault) -> dict:
        return {"type": "error", "error": {"type": fault.error_type, "message": fault.message}}

    @staticmethod
    def message(reply: ServerReply, request: dict, usage: Mapping[str, int] | None = None) -> dict:
        content: list[dict] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        calls = reply.calls()
        for i, c in enumerate(calls):
            content.append({"type": "tool_use", "id": _rid("toolu_", request, i), "name": c.name,
                            "input": dict(c.input) if isinstance(c.input, Mapping) else {}})
        stop = reply.stop_reason or ("tool_use" if calls else "end_turn")
        return {"id": _rid("msg_", request), "type": "message", "role": "assistant",
                "model": request.get("model", "loopback"), "content": content, "stop_reason": stop,
                "stop_sequence": None,
                "usage": {**(usage or {"input_tokens": _tokens(request.get("messages"))}), "output_tokens": _tokens(content)}}

    @classmethod
    def events(cls, reply: ServerReply, request: dict, fault: Fault | None,
               usage: Mapping[str, int] | None = None) -> Iterator[tuple[str, dict]]:
        msg = cls.message(reply, request, usage)
        start = dict(msg, content=[], stop_reason=None, usage=dict(msg["usage"], output_tokens=1))
        yield "message_start", {"type": "message_start", "message": start}
        if fault is not None:
            yield "error", cls.error(fault)
            return
        yield "ping", {"type": "ping"}
        for i, block in enumerate(msg["content"]):
            if block["type"] == "text":
                yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}
                for piece in _pieces(block["text"], 24):
                    yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                                  "delta": {"type": "text_delta", "text": piece}}
            else:
                yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": {
                    "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}
                for piece in _pieces(json.dumps(block["input"]), 20):
                    yield "content_block_delta", {"type": "content_block_delta", "index": i,
                                                  "delta": {"type": "input_json_delta", "partial_json": piece}}
            yield "content_block_stop", {"type": "content_block_stop", "index": i}
        yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                                "usage": {"output_tokens": msg["usage"]["output_tokens"]}}
        yield "message_stop", {"type": "message_stop"}

    @classmethod
    def sse(cls, reply: ServerReply, request: dict, fault: Fault | None,
            usage: Mapping[str, int] | None = None) -> Iterator[bytes]:
        for name, data in cls.events(reply, request, fault, usage):
            yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length", "refusal": "content_filter",
           "stop_sequence": "stop"}


class OpenAIWire:
    paths = ("/v1/chat/completions", "/chat/completions")

    @staticmethod
    def error(fault: Fault) -> dict:
        return {"error": {"message": fault.message, "type": fault.error_type, "param": None, "code": fault.error_type}}

    @staticmethod
    def _calls(reply: ServerReply, request: dict) -> list[dict]:
        return [{"id": _rid("call_", request, i), "type": "function",
                 "function": {"name": c.name, "arguments": c.input if isinstance(c.input, str) else json.dumps(dict(c.input))}}
                for i, c in enumerate(reply.calls())]

    @classmethod
    def message(cls, reply: ServerReply, request: dict, usage: Mapping[str, int] | None = None) -> dict:
        calls = cls._calls(reply, request)
        stop = reply.stop_reason or ("tool_use" if calls else "end_turn")
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        prompt, completion = _tokens(request.get("messages")), _tokens([reply.text, calls])
        return {"id": _rid("chatcmpl-", request), "object": "chat.completion", "created": 1750000000,
                "model": request.get("model", "loopback"),
                "choices": [{"index": 0, "message": message, "finish_reason": _FINISH.get(stop, stop), "logprobs": None}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}}

    @classmethod
    def sse(cls, reply: ServerReply, request: dict, fault: Fault | None,
            usage: Mapping[str, int] | None = None) -> Iterator[bytes]:
        full = cls.message(reply, request)
        base = {"id": full["id"], "object": "chat.completion.chunk", "created": full["created"], "model": full["model"]}

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            data = dict(base, choices=[{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}])
            return f"data: {json.dumps(data)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        if reply.text:
            for piece in _pieces(reply.text, 24):
                yield chunk({"content": piece})
        for i, call in enumerate(full["choices"][0]["message"].get("tool_calls") or ()):
            yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                         "function": {"name": call["function"]["name"], "arguments": ""}}]})
            for piece in _pieces(call["function"]["arguments"], 20):
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
        yield chunk({}, full["choices"][0]["finish_reason"])
        if (request.get("stream_options") or {}).get("include_usage"):
            yield f"data: {json.dumps(dict(base, choices=[], usage=full['usage']))}\n\n".encode()
        yield b"data: [DONE]\n\n"


WIRES = {"anthropic": AnthropicWire, "openai": OpenAIWire}


# -- the server ---------------------------------------------------------------------------------------
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Batches:
    """The Message Batches API (``/v1/messages/batches``: create, list, retrieve, results, cancel).

    A batch stays ``in_progress`` for ``latency`` seconds (a number, or ``callable(batch_index)``)
    after its creation, then ends on the next retrieve: each request's ``params`` go through the
    server's policy and prompt cache one after the other, as single calls would (a ``Fault`` answer
    gives an ``errored`` entry with that error, ``Fault.expired()`` an ``expired`` one). Cancel
    moves it to ``canceling``; it then ends with every entry not yet processed ``canceled``.
    ``results`` serves the JSONL file at ``results_url``. ``created`` counts create calls;
    ``items`` maps batch ids to their state. Bad input answers 400 like the API
    (duplicate or malformed ``custom_id``, no requests).
    """

    PREFIX = "/v1/messages/batches"

    def __init__(self, owner: "LoopbackServer") -> None:
        self.owner = owner
        self.latency: float | Callable[[int], float] = 0.0
        self.created = 0
        self.items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def handle(self, method: str, path: str, body: dict, root: str,
               query: Mapping[str, str] | None = None) -> tuple[int, Any, str]:
        rest = path[len(self.PREFIX):].strip("/")
        parts = rest.split("/") if rest else []
        with self._lock:
            if method == "POST" and not parts:
                return self._create(body)
            if method == "GET" and not parts:
                return self._list(dict(query or {}), root)
            batch = self.items.get(parts[0]) if parts else None
            if batch is None:
                return 404, AnthropicWire.error(Fault(404, "not_found_error", f"no batch {rest!r}")), "json"
            if method == "POST" and parts[1:] == ["cancel"]:
                if batch["status"] == "in_progress":
                    batch["status"], batch["cancel_initiated_at"] = "canceling", time.time()
                return 200, self._json(batch, root), "json"
            self._advance(batch)
            if method == "GET" and len(parts) == 1:
                return 200, self._json(batch, root), "json"
            if method == "GET" and parts[1:] == ["results"]:
                if batch["status"] != "ended":
                    return 404, AnthropicWire.error(Fault(404, "not_found_error", "batch has not ended")), "json"
                lines = [json.dumps({"custom_id": cid, "result": res}) + "\n" for cid, res in batch["results"]]
                return 200, "".join(lines).encode(), "jsonl"
        return 404, AnthropicWire.error(Fault(404, "not_found_error", f"no route {method} {path}")), "json"

    def _create(self, body: dict) -> tuple[int, Any, str]:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return 400, AnthropicWire.error(Fault.bad_request("requests: must be a non-empty list")), "json"
        seen: set[str] = set()
        for i, r in enumerate(requests):
            cid = r.get("custom_id") if isinstance(r, Mapping) else None
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid) or not isinstance(r.get("params"), Mapping):
                return 400, AnthropicWire.error(Fault.bad_request(f"requests.{i}: bad custom_id or params")), "json"
            if cid in seen:
                return 400, AnthropicWire.error(Fault.bad_request(f"requests.{i}.custom_id: duplicate {cid!r}")), "json"
            seen.add(cid)
        index = self.created
        self.created += 1
        delay = self.latency(index) if callable(self.latency) else self.latency
        bid = "msgbatch_" + hashlib.sha256(f"{self.owner.port}#{index}#{time.time()}".encode()).hexdigest()[:24]
        self.items[bid] = {"id": bid, "requests": requests, "status": "in_progress", "created_at": time.time(),
                           "ready": time.monotonic() + float(delay), "ended_at": None, "cancel_initiated_at": None,
                           "results": []}
        return 200, self._json(self.items[bid], ""), "json"

    def _list(self, query: dict[str, str], root: str) -> tuple[int, Any, str]:
        """``GET /v1/messages/batches``: newest first, ``limit`` (1-1000, default 20) per page,
        ``after_id`` / ``before_id`` cursors, as the API pages them. Listing ends nothing."""
        try:
            limit = int(query.get("limit", 20))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            return 400, AnthropicWire.error(Fault.bad_request("limit: must be 1 to 1000")), "json"
        ids = list(reversed(self.items))
        if "after_id" in query:
            ids = ids[ids.index(query["after_id"]) + 1:] if query["after_id"] in ids else []
        if "before_id" in query:
            ids = ids[:ids.index(query["before_id"])][-limit:] if query["before_id"] in ids else []
        page = ids[:limit]
        return 200, {"data": [self._json(self.items[b], root) for b in page], "has_more": len(ids) > len(page),
                     "first_id": page[0] if page else None, "last_id": page[-1] if page else None}, "json"

    def _advance(self, batch: dict[str, Any]) -> None:
        if batch["status"] == "ended" or (batch["status"] == "in_progress" and time.monotonic() < batch["ready"]):
            return
        canceled = batch["status"] == "canceling"
        for r in batch["requests"]:
            batch["results"].append((r["custom_id"], {"type": "canceled"} if canceled else self._answer(dict(r["params"]))))
        batch["status"], batch["ended_at"] = "ended", time.time()

    def _answer(self, params: dict) -> dict:
        owner = self.owner
        try:
            answer = owner.policy(params)
        except Exception as exc:  # noqa: BLE001 - shown as an errored entry, like a bad request
            owner.log.policy_errors.append(f"{type(exc).__name__}: {exc}")
            answer = Fault.bad_request(f"policy failed: {type(exc).__name__}: {exc}")
        if isinstance(answer, Fault):
            if answer.error_type == "expired":
                return {"type": "expired"}
            return {"type": "errored", "error": AnthropicWire.error(answer)}
        usage, writes = owner.prompt_cache.lookup(params)
        owner.prompt_cache.commit(writes)
        return {"type": "succeeded", "message": AnthropicWire.message(_as_reply(answer), params, usage)}

    def _json(self, batch: dict[str, Any], root: str) -> dict[str, Any]:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if batch["status"] == "ended":
            for _, res in batch["results"]:
                counts[res["type"]] += 1
        else:
            counts["processing"] = len(batch["requests"])
        ended = batch["status"] == "ended"
        return {"id": batch["id"], "type": "message_batch", "processing_status": batch["status"],
                "request_counts": counts, "created_at": _iso(batch["created_at"]),
                "expires_at": _iso(batch["created_at"] + 86400), "ended_at": _iso(batch["ended_at"]),
                "cancel_initiated_at": _iso(batch["cancel_initiated_at"]), "archived_at": None,
                "results_url": f"{root}{self.PREFIX}/{batch['id']}/results" if ended and root else None}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"
    timeout = 60

    def setup(self) -> None:
        super().setup()
        # No Nagle: headers and body go out as separate writes, and a 40 ms delayed-ACK stall per
        # response would swamp any latency a test sets.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        wire = owner.wire
        entry = LoggedRequest(path=path, body=body, stream=bool(body.get("stream")), started=time.monotonic(),
                              headers={k.lower(): v for k, v in self.headers.items() if k.lower() in _KEPT_HEADERS})
        owner.log._begin(entry)
        status = 500
        try:
            fault = owner._next_fault()
            entry.fault = fault
            batch_route = owner.wire_name == "anthropic" and path.startswith(Batches.PREFIX)
            # The prompt cache is looked up on arrival and written once the answer exists (below).
            cached = owner.prompt_cache.lookup(body) if owner.wire_name == "anthropic" and not batch_route \
                and method == "POST" else None
            delay = owner.latency(body) if callable(owner.latency) else owner.latency
            if delay:
                time.sleep(delay)
            if not batch_route and (method != "POST" or path not in wire.paths):
                status = 404
                self._json(404, wire.error(Fault(404, "not_found_error", f"no route {method} {path}")))
                return
            if fault is not None and not (fault.mid_stream and entry.stream):
                status = fault.status
                self._json(fault.status, wire.error(fault), _fault_headers(fault))
                return
            if batch_route:
                query = dict(parse_qsl(self.path.partition("?")[2]))
                status, data, content_type = owner.batches.handle(method, path, body, self._root(), query)
                if content_type == "jsonl":
                    self._raw(status, data, "application/binary")
                else:
                    self._json(status, data)
                return
            try:
                answer = owner.policy(body)
                if isinstance(answer, Fault):
                    fault = entry.fault = answer
                    status = fault.status
                    self._json(fault.status, wire.error(fault), _fault_headers(fault))
                    return
                reply = _as_reply(answer)
            except Exception as exc:  # noqa: BLE001 - a broken test policy must show, not hang
                owner.log.policy_errors.append(f"{type(exc).__name__}: {exc}")
                status = 400
                self._json(400, wire.error(Fault.bad_request(f"policy failed: {type(exc).__name__}: {exc}")))
                return
            status = 200
            usage = None
            if cached is not None:
                usage = cached[0]
                owner.prompt_cache.commit(cached[1])
            message = wire.message(reply, body, usage)
            entry.usage = dict(message.get("usage") or {})
            if entry.stream:
                self._sse(wire.sse(reply, body, fault, usage))
            else:
                self._json(200, message)
        finally:
            owner.log._end(entry, status)

    def _root(self) -> str:
        return f"http://127.0.0.1:{self.server.owner.port}"

    def _raw(self, status: int, blob: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(blob)))
        self.end_headers()
        self.wfile.write(blob)
        self.wfile.flush()

    def _json(self, status: int, data: Any, headers: Mapping[str, str] | None = None) -> None:
        blob = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(blob)))
        self.send_header("request-id", f"req_loopback_{int(time.monotonic() * 1e6)}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(blob)
        self.wfile.flush()

    def _sse(self, events: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for data in events:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


#: Request headers kept in the log (never the credentials).
_KEPT_HEADERS = frozenset({"anthropic-version", "content-type", "user-agent", "x-stainless-retry-count"})


def _fault_headers(fault: Fault) -> dict[str, str]:
    headers = {}
    if fault.retry_after is not None:
        headers["retry-after"] = fault.retry_after
    if fault.retry_after_ms is not None:
        headers["retry-after-ms"] = fault.retry_after_ms
    return headers


def _as_reply(value: Any) -> ServerReply:
    if isinstance(value, ServerReply):
        return value
    if isinstance(value, str):
        return ServerReply(text=value)
    if isinstance(value, Mapping):
        return ServerReply(**value)
    raise TypeError(f"a policy must return ServerReply, str or dict, not {type(value).__name__}")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512
    allow_reuse_address = True
    owner: "LoopbackServer"


class LoopbackServer:
    """A running server (start on construction, ``close()`` to stop); see the module docstring."""

    def __init__(self, wire: str = "anthropic", policy: Policy | None = None, *, latency: Latency = 0.0,
                 faults: Sequence[Fault] = ()) -> None:
        if wire not in WIRES:
            raise ValueError(f"wire must be one of {', '.join(WIRES)}, not {wire!r}")
        self.wire_name = wire
        self.wire = WIRES[wire]
        self.policy: Policy = policy or echo_policy
        self.latency: Latency = latency
        self.log = RequestLog()
        #: Anthropic prompt caching (see ``PromptCache``); ``prompt_cache.min_tokens`` may be changed.
        self.prompt_cache = PromptCache()
        #: The Message Batches API (see ``Batches``); ``batches.latency`` is its processing time.
        self.batches = Batches(self)
        self._faults: list[Fault] = list(faults)
        self._fault_lock = threading.Lock()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"loopback-{wire}-{self.port}", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.wire_name == "openai" else root

    def add_faults(self, *faults: Fault) -> None:
        with self._fault_lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._faults.clear()

    def _next_fault(self) -> Fault | None:
        with self._fault_lock:
            return self._faults.pop(0) if self._faults else None

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "LoopbackServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def anthropic_server(policy: Policy | None = None, *, latency: Latency = 0.0,
                     faults: Sequence[Fault] = ()) -> Iterator[LoopbackServer]:
    """An Anthropic Messages API on 127.0.0.1 (``POST /v1/messages``), JSON and SSE."""
    srv = LoopbackServer("anthropic", policy, latency=latency, faults=faults)
    try:
        yield srv
    finally:
        srv.close()


@contextmanager
def openai_server(policy: Policy | None = None, *, latency: Latency = 0.0,
                  faults: Sequence[Fault] = ()) -> Iterator[LoopbackServer]:
    """An OpenAI chat completions API on 127.0.0.1 (``POST /v1/chat/completions``), JSON and SSE."""
    srv = LoopbackServer("openai", policy, latency=latency, faults=faults)
    try:
        yield srv
    finally:
        srv.close()


async def serve_lean(wire: str, policy: Policy, latency: float, ready: Callable[[str], None]) -> None:
    """A minimal asyncio HTTP/1.1 server for throughput benchmarks: JSON answers only (no
    streaming, faults or log), and no thread per connection, so at 64 concurrent requests the
    server's own CPU and GIL contention stay far below the client's."""
    w = WIRES[wire]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length) or b"{}")
                if latency:
                    await asyncio.sleep(latency)
                blob = json.dumps(w.message(_as_reply(policy(body)), body)).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                             + str(len(blob)).encode() + b"\r\n\r\n" + blob)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    ready(f"http://127.0.0.1:{port}" + ("/v1" if wire == "openai" else ""))
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Serve in this process until stdin closes: ``python -m tests.loopback --wire anthropic``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--wire", choices=sorted(WIRES), default="anthropic")
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--text", default="Understood. No action needed.")
    ap.add_argument("--lean", action="store_true", help="asyncio server: JSON only, for throughput benchmarks")
    args = ap.parse_args(argv)
    text = args.text

    def policy(req: dict) -> ServerReply:
        return ServerReply(text=text)

    if args.lean:
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
        asyncio.run(serve_lean(args.wire, policy, args.latency, lambda url: print(url, flush=True)))
        return 0
    with LoopbackServer(args.wire, policy, latency=args.latency) as srv:
        print(srv.base_url, flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
