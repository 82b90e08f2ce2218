"""``anthropic:MODEL`` — the official ``anthropic`` SDK (async client), native tool use.

Credentials and endpoint come from the environment as the SDK reads them (ANTHROPIC_API_KEY,
ANTHROPIC_BASE_URL; ``AgentOptions.base_url`` overrides the URL). The SDK's own retries are off:
``fuzzer.agents.retry`` does them so one policy and one counter cover every provider.
``stream=True`` uses ``messages.stream`` and reads the accumulated final message.

Sampling: the SDK (API version 2026-10-21) has no temperature parameter and the API rejects one.
At the default 1.0 none is sent; any other value is sent through ``extra_body`` with the request
pinned to API version 2023-06-01, which still accepts it.

``complete_text(spec_or_agent, system, user, *, sample=0, options=None)`` is the judge's entry
point: a plain text completion through the same SDK path, retries and response cache.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Mapping, Sequence

from fuzzer.agents._sdk import LoopBoundClient
from fuzzer.agents.base import AgentOptions
from fuzzer.agents.loop import (
    AssistantTurn, Reply, ResultsTurn, ToolCall, ToolLoopAgent, ToolSpecMemo, Turn, UserTurn,
)
from fuzzer.agents.retry import Transient, classify_sdk_error
from fuzzer.agents.textcalls import format_results
from fuzzer.errors import SpecError

#: The API version that still takes ``temperature``; used only when a non-default one is asked for.
SAMPLING_API_VERSION = "2023-06-01"
_STOP = {"end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens", "refusal": "refusal",
         "stop_sequence": "stop_sequence", "pause_turn": "end_turn"}


class AnthropicProvider:
    def __init__(self, model: str, options: AgentOptions) -> None:
        try:
            import anthropic  # noqa: F401 - lazily: the SDK is only needed for this provider
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise SpecError(f"anthropic:{model} needs the anthropic package ({exc})") from None
        self.model = model
        self.spec = f"anthropic:{model}"
        self.options = options
        if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
            # Fail before the run: otherwise every sample would come back as an error transcript.
            raise SpecError(f"{self.spec} needs ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment")
        self._client = LoopBoundClient(self._new_client)
        self._tools = ToolSpecMemo(tool_spec)
        self._templates: dict[bool, tuple[Any, Any]] = {}   # sampling? -> (client, request options)

    def _new_client(self) -> Any:
        from anthropic import AsyncAnthropic

        kwargs: dict[str, Any] = {"max_retries": 0, "timeout": self.options.timeout}
        key = os.environ.get("ANTHROPIC_API_KEY")
        if key:
            kwargs["api_key"] = key
        if self.options.base_url:
            kwargs["base_url"] = self.options.base_url
        try:
            # No tracing spans per request: they cost ~10% of the client's CPU and we count ourselves.
            return AsyncAnthropic(**kwargs, open_telemetry=False)
        except TypeError:  # an SDK without OpenTelemetry support
            return AsyncAnthropic(**kwargs)

    # -- provider interface -------------------------------------------------------------------------
    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        req: dict[str, Any] = {"model": self.model, "max_tokens": self.options.max_tokens}
        if system:
            req["system"] = system
        req["messages"] = wire_messages(turns)
        if tools:
            req["tools"] = self._tools(tools)
        t = self.options.temperature
        if t is not None and float(t) != 1.0:
            req["temperature"] = float(t)
        return req

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
        client = self._client.get()
        temperature = request.get("temperature")
        if stream:
            kwargs = dict(request)
            if kwargs.pop("temperature", None) is not None:
                kwargs["extra_body"] = {"temperature": temperature}
                kwargs["extra_headers"] = {"anthropic-version": SAMPLING_API_VERSION}
            async with client.messages.stream(**kwargs) as s:
                return reply_from_message(await s.get_final_message())
        # The SDK's own request path (auth, headers, status → typed errors, timeouts) with the body
        # handed over as JSON bytes we encode ourselves: ``messages.create`` would deep-copy and
        # re-encode the whole request (tool schemas, the inbox) on every call, re-parse the URL and
        # build request options and response models we only read back — together about a third
        # of the client's CPU per request, which caps throughput at high concurrency.
        body = wire_body(request)
        sampling = temperature is not None
        template = self._templates.get(sampling)
        if template is None or template[0] is not client:
            template = self._templates[sampling] = (client, self._template(client, sampling=sampling))
        options = template[1]
        if options is None:   # an SDK without these internals: its public post(), one step slower
            extra = {"headers": {"anthropic-version": SAMPLING_API_VERSION}} if sampling else {}
            response = await client.post("/v1/messages", content=body, cast_to=_httpx_response(), options=extra)
        else:
            options = copy.copy(options)     # shallow: the SDK copies again, and never mutates its parts
            options.content = body
            response = await client.request(_httpx_response(), options)
        return reply_from_message(response.json())

    @staticmethod
    def _template(client: Any, *, sampling: bool) -> Any:
        """The SDK's request options of a Messages call minus the body, and its URL already joined
        to the client's base URL by the SDK itself: built once per client, not per request."""
        try:
            from anthropic._models import FinalRequestOptions

            headers = {"anthropic-version": SAMPLING_API_VERSION} if sampling else {}
            return FinalRequestOptions.construct(
                method="post", url=client._prepare_url("/v1/messages"), json_data=None, files=None, headers=headers)
        except (ImportError, AttributeError, TypeError):  # pragma: no cover - another SDK layout
            return None

    def classify(self, exc: BaseException) -> Transient | None:
        return classify_sdk_error(exc)

    async def aclose(self) -> None:
        await self._client.aclose()


def _httpx_response() -> type:
    """The HTTP client's response class: as ``cast_to`` the SDK returns the response untouched."""
    global _RESPONSE_CLS
    if _RESPONSE_CLS is None:
        import anthropic._base_client as base

        http = getattr(base, "httpx2", None) or getattr(base, "httpx")   # whichever the SDK is built on
        _RESPONSE_CLS = http.Response
    return _RESPONSE_CLS


_RESPONSE_CLS: type | None = None
#: The SDK's own JSON settings for request bodies (UTF-8 as is, compact, no NaN).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
#: Encodings of the values that repeat on every turn and sample of a prompt (the system prompt,
#: the converted tool specs, a tuple from ``ToolSpecMemo``), by identity; the value is kept next to
#: its encoding, so an id is never reused while remembered.
_BODY_MEMO: dict[int, tuple[Any, str]] = {}


def wire_body(request: Mapping[str, Any]) -> bytes:
    """The request as the JSON bytes the SDK would send for it (with ``temperature`` in the body)."""
    parts = []
    for name, value in request.items():
        if isinstance(value, tuple) or (isinstance(value, str) and len(value) >= 256):
            hit = _BODY_MEMO.get(id(value))
            if hit is None or hit[0] is not value:
                if len(_BODY_MEMO) >= 256:
                    _BODY_MEMO.clear()
                hit = _BODY_MEMO[id(value)] = (value, _ENCODER.encode(value))
            text = hit[1]
        else:
            text = _ENCODER.encode(value)
        parts.append(f'"{name}":{text}')
    return ("{" + ",".join(parts) + "}").encode()


def tool_spec(tool: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": tool["name"], "description": tool.get("description", ""),
            "input_schema": dict(tool.get("input_schema") or {"type": "object", "properties": {}})}


def wire_messages(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """Neutral turns → Messages API ``messages`` (tool_use/tool_result for native calls)."""
    out: list[dict[str, Any]] = []
    for turn in turns:
        if isinstance(turn, UserTurn):
            out.append({"role": "user", "content": turn.text})
        elif isinstance(turn, AssistantTurn):
            content: list[dict[str, Any]] = []
            if turn.text.strip():
                content.append({"type": "text", "text": turn.text})
            for c in turn.calls:
                if c.native:
                    content.append({"type": "tool_use", "id": c.id, "name": c.name,
                                    "input": c.args if isinstance(c.args, dict) else {}})
            out.append({"role": "assistant", "content": content or [{"type": "text", "text": "(no text)"}]})
        elif isinstance(turn, ResultsTurn):
            native = [r for r in turn.results if r.call.native]
            if native:
                out.append({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": r.call.id, "content": r.content, "is_error": r.is_error}
                    for r in native]})
            text = [(r.call.name, r.content) for r in turn.results if not r.call.native]
            if text:
                out.append({"role": "user", "content": format_results(text)})
    return out


def reply_from_message(message: Any) -> Reply:
    """A Messages API response (the SDK's ``Message`` or its JSON as a dict) → ``Reply``."""
    texts, calls = [], []
    for block in _get(message, "content") or ():
        kind = _get(block, "type")
        if kind == "text":
            texts.append(_get(block, "text") or "")
        elif kind == "tool_use":
            args = _get(block, "input")
            calls.append(ToolCall(_get(block, "id"), _get(block, "name"), dict(args) if isinstance(args, Mapping) else args, True))
    usage: dict[str, int] = {}
    u = _get(message, "usage")
    for name in ("input_tokens", "output_tokens"):
        value = _get(u, name)
        if isinstance(value, int):
            usage[name] = value
    raw_stop = _get(message, "stop_reason")
    stop = _STOP.get(str(raw_stop), str(raw_stop or "end_turn"))
    return Reply(text="".join(texts), tool_calls=tuple(calls), stop_reason=stop, usage=usage)


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def make_anthropic_agent(model: str, options: AgentOptions | None = None) -> ToolLoopAgent:
    if not model.strip():
        raise SpecError("anthropic: needs a model name, e.g. anthropic:claude-sonnet-4-5")
    options = options or AgentOptions()
    return ToolLoopAgent(AnthropicProvider(model.strip(), options), options)


async def complete_text(
    spec_or_agent: str | ToolLoopAgent,
    system: str,
    user: str,
    *,
    sample: int = 0,
    options: AgentOptions | None = None,
) -> str:
    """Text completion for the LLM judge, through the same SDK path, retries and cache.

    Pass a spec (``anthropic:MODEL``, ``openai:MODEL``; a client is made and closed) or an agent
    from ``load_agent`` to reuse its connection pool, concurrency limit and counters. ``sample``
    selects a distinct cache entry (judge votes). Raises ``AgentError`` if the call fails for good.
    """
    if isinstance(spec_or_agent, str):
        from fuzzer.agents.spec import load_agent

        agent = load_agent(spec_or_agent, options)
        if not isinstance(agent, ToolLoopAgent):
            await agent.aclose()
            raise SpecError(f"{spec_or_agent}: text completion needs an anthropic: or openai: model")
        try:
            return await agent.complete_text(system, user, sample=sample)
        finally:
            await agent.aclose()
    return await spec_or_agent.complete_text(system, user, sample=sample)
