"""``anthropic:MODEL`` — the official ``anthropic`` SDK (async client), native tool use.

Credentials and endpoint come from the environment as the SDK reads them (ANTHROPIC_API_KEY,
ANTHROPIC_BASE_URL; ``AgentOptions.base_url`` overrides the URL). The SDK's own retries are off:
``fuzzer.agents.retry`` does them so one policy and one counter cover every provider.
Only the SDK's public API is used: ``messages.create`` (through ``with_raw_response``, reading
its JSON), ``messages.stream`` (``stream=True``, reading
the accumulated final message) and ``messages.batches`` (``AgentOptions.batch``, see
``fuzzer.agents.batch``).

Prompt caching (``AgentOptions.prompt_caching``, on by default): ``cache_control`` breakpoints on
the last tool, the system prompt, the inbox (the first user message) and, from the second turn of
the tool loop on, the newest message. The k samples of a scenario share tools + system + inbox and
every later turn of a sample extends its previous request, so all of them read those prefixes
from the provider's cache (at a tenth of the input price) instead of paying them again; the loop
sends one first turn per prefix before its siblings (``prime_key``) so the siblings find the
prefix written. At most 4 breakpoints, as the API allows. Prefixes below the API's minimum
(1024 tokens on Sonnet/Opus) are simply not cached by the API, at no extra cost.

Sampling: the SDK (API version 2026-10-21) has no temperature parameter and the API rejects one.
At the default 1.0 none is sent; any other value is sent through ``extra_body`` with the request
pinned to API version 2023-06-01, which still accepts it.

``complete_text(spec_or_agent, system, user, *, sample=0, options=None)`` is the judge's entry
point: a plain text completion through the same SDK path, retries and response cache.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from fuzzer.agents._sdk import LoopBoundClient
from fuzzer.agents.base import AgentOptions
from fuzzer.agents.loop import (
    USAGE_KEYS, AssistantTurn, Reply, ResultsTurn, ToolCall, ToolLoopAgent, ToolSpecMemo, Turn, UserTurn,
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
        self.caching = bool(getattr(options, "prompt_caching", True))
        self._marked_tools: dict[int, tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]] = {}
        self._system_blocks: dict[str, tuple[dict[str, Any], ...]] = {}
        self.batcher: Any = None
        if getattr(options, "batch", False):
            from fuzzer.agents.batch import BatchSender

            self.batcher = BatchSender(self)

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
            req["system"] = self._system(system) if self.caching else system
        messages = wire_messages(turns)
        if self.caching:
            mark_messages(messages)
        req["messages"] = messages
        if tools:
            req["tools"] = self._marked(self._tools(tools)) if self.caching else self._tools(tools)
        t = self.options.temperature
        if t is not None and float(t) != 1.0:
            req["temperature"] = float(t)
        return req

    def _system(self, system: str) -> tuple[dict[str, Any], ...]:
        """The system prompt as one cached text block; the same tuple per prompt (cache-key memo)."""
        hit = self._system_blocks.get(system)
        if hit is None:
            if len(self._system_blocks) >= 256:
                self._system_blocks.clear()
            hit = self._system_blocks[system] = ({"type": "text", "text": system, "cache_control": dict(EPHEMERAL)},)
        return hit

    def _marked(self, tools: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], ...]:
        """The converted tool specs with a breakpoint on the last one; memoized by identity."""
        hit = self._marked_tools.get(id(tools))
        if hit is not None and hit[0] is tools:
            return hit[1]
        out = tools[:-1] + (dict(tools[-1], cache_control=dict(EPHEMERAL)),) if tools else tools
        if len(self._marked_tools) >= 256:
            self._marked_tools.clear()
        self._marked_tools[id(tools)] = (tools, out)
        return out

    def prime_key(self, request: Mapping[str, Any]) -> Any:
        """A first turn's cached prefix (model, system, tools, inbox), so one sibling writes it first."""
        messages = request.get("messages") or ()
        if not self.caching or len(messages) != 1:
            return None
        system, tools = request.get("system"), request.get("tools") or ()
        return (request.get("model"), id(system), id(tools), _text_of(messages[0].get("content")))

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
        client = self._client.get()
        kwargs = sdk_kwargs(request)
        if stream:
            async with client.messages.stream(**kwargs) as s:
                return reply_from_message(await s.get_final_message())
        # ``with_raw_response`` is the SDK's public way to read the HTTP answer itself: the JSON goes
        # straight into a Reply instead of through the SDK's response models first, which saves
        # 10-20% of the client's CPU per call (benchmarks/concurrency.py).
        raw = await client.messages.with_raw_response.create(**kwargs)
        return reply_from_message(await raw.json())

    async def send_batched(self, request: dict[str, Any], key: str) -> Reply:
        """The request as one entry of a Message Batch (``fuzzer.agents.batch``)."""
        return await self.batcher.submit(request, key)

    def client(self) -> Any:
        """The SDK client bound to the running event loop (the batch sender uses it too)."""
        return self._client.get()

    def classify(self, exc: BaseException) -> Transient | None:
        from fuzzer.agents.batch import classify_batch_error

        return classify_batch_error(exc) or classify_sdk_error(exc)

    async def aclose(self) -> None:
        if self.batcher is not None:
            await self.batcher.aclose()
        await self._client.aclose()


#: A prompt-cache breakpoint (the default 5-minute lifetime).
EPHEMERAL = {"type": "ephemeral"}


def sdk_kwargs(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request as keyword arguments of ``messages.create`` / ``stream`` / a batch entry's
    params: a non-default temperature goes in the body under the API version that accepts it."""
    kwargs = dict(request)
    temperature = kwargs.pop("temperature", None)
    if temperature is not None:
        kwargs["extra_body"] = {"temperature": temperature}
        kwargs["extra_headers"] = {"anthropic-version": SAMPLING_API_VERSION}
    return kwargs


def mark_messages(messages: list[dict[str, Any]]) -> None:
    """Breakpoints on the first message (the inbox) and, if later, on the newest one (in place)."""
    for i in {0, len(messages) - 1} if messages else ():
        msg = messages[i]
        content = msg["content"]
        if isinstance(content, str):
            msg["content"] = [{"type": "text", "text": content, "cache_control": dict(EPHEMERAL)}]
        elif content:
            msg["content"] = [*content[:-1], dict(content[-1], cache_control=dict(EPHEMERAL))]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(b.get("text", "")) for b in content or () if isinstance(b, Mapping))


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
    for name in USAGE_KEYS:
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
