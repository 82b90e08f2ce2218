"""``openai:MODEL`` — any OpenAI-compatible chat completions endpoint through the ``openai`` SDK.

Hosted OpenAI, vLLM, Ollama, llama.cpp server, LM Studio: set OPENAI_BASE_URL (or
``AgentOptions.base_url``) and OPENAI_API_KEY; with a base URL and no key a dummy key is sent,
since local servers ignore it. Tools go out as function specs; ``tool_calls`` come back as native
calls; servers whose models write ``<tool_use:...>`` blocks instead are handled by the shared loop.
Token limit: ``max_completion_tokens`` for the hosted API, ``max_tokens`` for other servers (what
they accept). SDK retries are off; ``fuzzer.agents.retry`` does them.
"""

from __future__ import annotations

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

#: Sent when a local server needs no key: the SDK refuses to start without one.
DUMMY_KEY = "sk-no-key-required"
_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens",
         "content_filter": "refusal"}


class OpenAIProvider:
    def __init__(self, model: str, options: AgentOptions) -> None:
        try:
            import openai  # noqa: F401
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise SpecError(f"openai:{model} needs the openai package ({exc})") from None
        self.model = model
        self.spec = f"openai:{model}"
        self.options = options
        self.base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or None
        if not os.environ.get("OPENAI_API_KEY") and not self.base_url:
            raise SpecError(f"{self.spec} needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local server")
        self._client = LoopBoundClient(self._new_client)
        self._tools = ToolSpecMemo(function_spec)

    def _new_client(self) -> Any:
        from openai import AsyncOpenAI

        return AsyncOpenAI(api_key=os.environ.get("OPENAI_API_KEY") or DUMMY_KEY, base_url=self.base_url,
                           max_retries=0, timeout=self.options.timeout)

    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        req: dict[str, Any] = {"model": self.model, "messages": wire_messages(system, turns)}
        if tools:
            req["tools"] = self._tools(tools)
        hosted = not self.base_url or "api.openai.com" in self.base_url
        limit = "max_completion_tokens" if hosted else "max_tokens"
        req[limit] = self.options.max_tokens
        if self.options.temperature is not None:
            req["temperature"] = float(self.options.temperature)
        return req

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
        client = self._client.get()
        if not stream:
            raw = await client.chat.completions.with_raw_response.create(**request, stream=False)
            return reply_from_completion(json.loads(raw.content))   # a read LegacyAPIResponse
        chunks = await client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
        return await reply_from_stream(chunks)

    def classify(self, exc: BaseException) -> Transient | None:
        return classify_sdk_error(exc)

    async def aclose(self) -> None:
        await self._client.aclose()


def function_spec(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic-shaped tool spec as an OpenAI function tool."""
    return {"type": "function", "function": {
        "name": tool["name"], "description": tool.get("description", ""),
        "parameters": dict(tool.get("input_schema") or {"type": "object", "properties": {}})}}


def wire_messages(system: str, turns: Sequence[Turn]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in turns:
        if isinstance(turn, UserTurn):
            out.append({"role": "user", "content": turn.text})
        elif isinstance(turn, AssistantTurn):
            msg: dict[str, Any] = {"role": "assistant", "content": turn.text or None}
            native = [c for c in turn.calls if c.native]
            if native:
                msg["tool_calls"] = [{"id": c.id, "type": "function", "function": {
                    "name": c.name, "arguments": c.args if isinstance(c.args, str) else json.dumps(c.args)}}
                    for c in native]
            elif not turn.text:
                msg["content"] = ""
            out.append(msg)
        elif isinstance(turn, ResultsTurn):
            for r in turn.results:
                if r.call.native:
                    out.append({"role": "tool", "tool_call_id": r.call.id, "content": r.content})
            text = [(r.call.name, r.content) for r in turn.results if not r.call.native]
            if text:
                out.append({"role": "user", "content": format_results(text)})
    return out


def _args(raw: str | None) -> Any:
    """Function arguments arrive as a JSON string; unreadable ones stay a string (→ tool error)."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value


def chat_usage(u: Any) -> dict[str, int]:
    """The API's usage in the Messages API's names. OpenAI counts cached prompt tokens inside
    ``prompt_tokens`` (``prompt_tokens_details.cached_tokens``); they are reported apart as
    ``cache_read_input_tokens``, so ``input_tokens`` means the same (uncached) thing for every
    provider. Servers that send no details report no cache reads."""
    out: dict[str, int] = {}
    for src, dst in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens")):
        value = _get(u, src)
        if isinstance(value, int):
            out[dst] = value
    cached = _get(_get(u, "prompt_tokens_details"), "cached_tokens")
    if isinstance(cached, int) and cached > 0 and "input_tokens" in out:
        out["cache_read_input_tokens"] = min(cached, out["input_tokens"])
        out["input_tokens"] -= out["cache_read_input_tokens"]
    return out


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def reply_from_completion(completion: Any) -> Reply:
    """A chat completion (the SDK object or its JSON as a dict) → ``Reply``."""
    choices = _get(completion, "choices") or ()
    if not choices:
        return Reply(text="", stop_reason="end_turn", usage=chat_usage(_get(completion, "usage")))
    choice = choices[0]
    msg = _get(choice, "message") or {}
    calls = []
    for i, tc in enumerate(_get(msg, "tool_calls") or ()):
        fn = _get(tc, "function")
        if fn is not None:
            calls.append(ToolCall(_get(tc, "id") or f"call-{i}", _get(fn, "name") or "", _args(_get(fn, "arguments")), True))
    stop = _STOP.get(str(_get(choice, "finish_reason")), "end_turn")
    return Reply(text=_get(msg, "content") or "", tool_calls=tuple(calls), stop_reason=stop,
                 usage=chat_usage(_get(completion, "usage")))


async def reply_from_stream(chunks: Any) -> Reply:
    """Accumulate streamed deltas: text pieces, tool-call pieces by index, finish reason, usage."""
    text: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish, usage = None, {}
    async for chunk in chunks:
        if getattr(chunk, "usage", None) is not None:
            usage = chat_usage(chunk.usage)
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta is not None and delta.content:
                text.append(delta.content)
            for tc in (delta.tool_calls if delta is not None else None) or ():
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function is not None:
                    if tc.function.name and not slot["name"]:
                        slot["name"] = tc.function.name
                    slot["arguments"] += tc.function.arguments or ""
            if choice.finish_reason:
                finish = choice.finish_reason
    tool_calls = tuple(ToolCall(c["id"] or f"call-{i}", c["name"], _args(c["arguments"]), True)
                       for i, c in sorted(calls.items()))
    return Reply(text="".join(text), tool_calls=tool_calls, stop_reason=_STOP.get(str(finish), "end_turn"), usage=usage)


def make_openai_agent(model: str, options: AgentOptions | None = None) -> ToolLoopAgent:
    if not model.strip():
        raise SpecError("openai: needs a model name, e.g. openai:gpt-4o-mini")
    options = options or AgentOptions()
    return ToolLoopAgent(OpenAIProvider(model.strip(), options), options)
