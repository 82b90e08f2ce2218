"""The multi-turn tool loop every model adapter shares, and the small interface a backend implements.

A backend (anthropic, openai, the local llama.cpp model...) is a *provider*: it turns a neutral
conversation into its wire request and sends it. Everything else — the tool loop, text tool-call
parsing, the simulated tool environment, the response cache, retries, the concurrency limit and
the counters — lives here once, in ``ToolLoopAgent``::

    class MyProvider:                       # structural: no base class needed
        spec: str                           # "local:smollm2": recorded in transcripts, part of the cache key

        def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping]) -> dict:
            '''The request as plain JSON-able data (no credentials, no headers). It is hashed for
            the cache key, so it must hold everything that changes the answer (model, messages,
            tools, temperature, max tokens) and nothing that does not (stream flag, timeouts).
            ``tools`` are Anthropic-shaped specs {name, description, input_schema}, the same
            tuple object on every turn of a prompt: convert them with a ``ToolSpecMemo`` so the
            conversion and its cache-key encoding happen once per prompt.'''

        async def send(self, request: dict, *, stream: bool) -> Reply:
            '''One real model request. Raise on failure; ``classify`` decides about retrying.
            Return the reply's text and *native* tool calls only: the loop parses
            ``<tool_use:...>`` blocks out of the text itself.'''

        def classify(self, exc: BaseException) -> Transient | None:
            '''Transient(reason, retry_after) to retry, None to fail at once.'''

        async def aclose(self) -> None: ...

        # optional
        def prime_key(self, request: dict) -> Hashable | None:
            '''For a provider with a prompt cache: the prefix a first-turn request shares with its
            sibling samples (None otherwise); the loop sends one of them first (see ``_primed``).'''

        async def send_batched(self, request: dict, key: str) -> Reply:
            '''With ``AgentOptions.batch``: the same request through a batch API; ``key`` is its
            response-cache key (the batch entry's id, so batch results feed the same cache).'''

    agent = ToolLoopAgent(MyProvider(...), options)   # a complete AgentModel

Usage: every reply's token counts go into the transcript (summed per sample, cache hits included:
what the sample consumed) and, for requests actually sent, into ``stats.usage`` (what was billed).

The conversation is a list of turns: ``UserTurn(text)``, ``AssistantTurn(text, calls)`` and
``ResultsTurn(results)``. A ``ToolCall`` is ``native`` when the model used the API's tool-use
mechanism (the provider must send it back as tool_use / tool_calls with its ``id``) and not
native when it was parsed from text (send the assistant text as is, and the results as a user
message: ``textcalls.format_results``).

Loop rule: ask the model; run its tool calls (native ones; else ``<tool_use:...>`` blocks in its
text) in ``ToolEnv``; feed the results back; repeat until a reply makes no call or ``max_turns``
requests were made (``stop_reason='max_turns'``; calls in that last reply are still run and
recorded). ``final_text`` is every assistant text of the sample, tool-use blocks cut out, joined
by blank lines. A request that fails for good ends the sample with ``error`` set and the actions
made so far kept; ``act`` never raises for a model failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, Union

from fuzzer.agents.base import AgentOptions, AgentStats
from fuzzer.agents.cache import cache_key
from fuzzer.agents.retry import RetryPolicy, Transient, call_with_retries
from fuzzer import unexpected
from fuzzer.agents.textcalls import parse_text_calls, strip_calls
from fuzzer.errors import AgentError, SpecError
from fuzzer.render import Prompt
from fuzzer.scenario import Scenario
from fuzzer.tools import ToolEnv
from fuzzer.transcript import Transcript


# -- the neutral conversation -------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    args: Any                 # a dict normally; the raw string when the model's arguments were unreadable
    native: bool = True


@dataclass(frozen=True)
class ToolResult:
    call: ToolCall
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class UserTurn:
    text: str


@dataclass(frozen=True)
class AssistantTurn:
    text: str
    calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ResultsTurn:
    results: tuple[ToolResult, ...]


Turn = Union[UserTurn, AssistantTurn, ResultsTurn]

#: Normalized stop reasons: end_turn, tool_use, max_tokens, refusal, stop_sequence (+ max_turns, error).
STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "refusal", "stop_sequence")


@dataclass(frozen=True)
class Reply:
    """One model response, provider-neutral; also the JSON stored in the response cache."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str = "end_turn"
    usage: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [{"id": c.id, "name": c.name, "args": c.args} for c in self.tool_calls],
            "stop_reason": self.stop_reason,
            "usage": dict(self.usage),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Reply":
        return cls(
            text=data.get("text") or "",
            tool_calls=tuple(ToolCall(c["id"], c["name"], c.get("args"), True) for c in data.get("tool_calls") or ()),
            stop_reason=data.get("stop_reason") or "end_turn",
            usage={k: int(v) for k, v in (data.get("usage") or {}).items()},
        )


#: The token counters a usage mapping may carry (the Messages API's names; other providers map to them).
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def add_usage(total: dict[str, int], usage: Mapping[str, Any]) -> dict[str, int]:
    """Add one reply's token counts into ``total`` (in place; integer fields only) and return it."""
    for name, value in usage.items():
        if isinstance(value, int) and not isinstance(value, bool):
            total[name] = total.get(name, 0) + value
    return total


class ToolSpecMemo:
    """Converts a prompt's tool specs once per prompt (by identity) into a provider's wire shape.

    The result is a tuple, so the cache-key encoder can memoize it too: on a cache hit, re-encoding
    the tool schemas would otherwise cost more than the lookup itself.
    """

    def __init__(self, convert: Callable[[Mapping[str, Any]], dict[str, Any]]) -> None:
        self.convert = convert
        self._memo: dict[int, tuple[Sequence[Mapping[str, Any]], tuple[dict[str, Any], ...]]] = {}

    def __call__(self, tools: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
        hit = self._memo.get(id(tools))
        if hit is not None and hit[0] is tools:
            return hit[1]
        out = tuple(self.convert(t) for t in tools)
        if len(self._memo) >= 256:
            self._memo.clear()
        self._memo[id(tools)] = (tools, out)
        return out


class Provider(Protocol):
    spec: str

    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]: ...

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply: ...

    def classify(self, exc: BaseException) -> Transient | None: ...

    async def aclose(self) -> None: ...


# -- the agent ---------------------------------------------------------------------------------------------
class ToolLoopAgent:
    """An ``AgentModel`` over any provider: cache, retries, concurrency limit, tool loop."""

    simulated = False

    def __init__(self, provider: Provider, options: AgentOptions | None = None) -> None:
        self.provider = provider
        self.spec: str = provider.spec
        self.options = options or AgentOptions()
        self.stats = AgentStats()
        self.policy = RetryPolicy(self.options.max_retries, self.options.backoff_base, self.options.backoff_max)
        self.in_flight = 0
        self.peak_in_flight = 0
        self._sem: asyncio.Semaphore | None = None
        self._sem_loop: asyncio.AbstractEventLoop | None = None
        self._primers: dict[Any, tuple[asyncio.Event, asyncio.AbstractEventLoop]] = {}
        if self.options.batch and not hasattr(provider, "send_batched"):
            raise SpecError(f"{self.spec}: --batch needs a provider with a batch API (anthropic:)")

    def _semaphore(self) -> asyncio.Semaphore:
        # One semaphore per event loop: a plugin or CLI may call asyncio.run more than once.
        loop = asyncio.get_running_loop()
        if self._sem is None or self._sem_loop is not loop:
            self._sem, self._sem_loop = asyncio.Semaphore(self.options.concurrency), loop
        return self._sem

    async def request(
        self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]], *, sample: int = 0
    ) -> Reply:
        """One model request: from the cache if there, else sent (with retries) and cached.

        Raises ``AgentError`` when the request fails for good; failures are never cached.
        """
        request = self.provider.build_request(system, turns, tools)
        cache = self.options.cache
        batched = self._batched()
        key = (cache_key(self.spec, request, sample, endpoint=self.options.endpoint_for(self.spec),
                         revision=self.options.model_revision) if cache is not None or batched else None)
        if cache is not None and key is not None:
            claim = getattr(cache, "claim", None)  # a shared cache: a lookup that also claims the call
            hit = await claim(key) if claim is not None else cache.get(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return Reply.from_json(hit)
        self.stats.requests += 1
        if batched:
            # No concurrency slot: a batch holds every pending request of the run at once.
            send: Callable[[], Any] = lambda: self.provider.send_batched(request, key)  # type: ignore[attr-defined]
        else:
            send = lambda: self._send_once(request)  # noqa: E731
        try:
            async with self._primed(None if batched else request):
                reply = await call_with_retries(send, policy=self.policy, classify=self.provider.classify,
                                                on_retry=self._count_retry)
        except BaseException:
            release = getattr(cache, "release", None)
            if release is not None and key is not None:
                release(key)  # a shared cache: let the next worker (or run) pay for it
            raise
        add_usage(self.stats.usage, reply.usage)
        if cache is not None and key is not None:
            cache.put(key, reply.to_json())
        return reply

    def _batched(self) -> bool:
        return bool(self.options.batch) and hasattr(self.provider, "send_batched")

    @contextlib.asynccontextmanager
    async def _primed(self, request: dict[str, Any] | None) -> Any:
        """Send the first request of a prompt prefix alone, its siblings once it has answered.

        The k samples of a scenario start with the same request; a provider's prompt cache holds a
        prefix only once the first response to it has begun, so k concurrent first turns would all
        pay to write it. A provider with a prompt cache says which prefix a request starts with
        (``prime_key``); the first request of that prefix goes at once and the others wait for it
        (outside the concurrency limit, which other scenarios use meanwhile), then read the cache.
        """
        prime = getattr(self.provider, "prime_key", None)
        pk = prime(request) if prime is not None and request is not None else None
        if pk is None:
            yield
            return
        loop = asyncio.get_running_loop()
        event = self._primers.get(pk)
        if event is None or event[1] is not loop:
            if len(self._primers) >= 4096:
                self._primers.clear()
            self._primers[pk] = (asyncio.Event(), loop)
            try:
                yield
            finally:
                self._primers[pk][0].set()
            return
        await event[0].wait()
        yield

    def _count_retry(self, attempt: int, transient: Transient, wait: float) -> None:
        self.stats.retries += 1

    async def _send_once(self, request: dict[str, Any]) -> Reply:
        async with self._semaphore():
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                return await self.provider.send(request, stream=self.options.stream)
            finally:
                self.in_flight -= 1

    async def act(self, scenario: Scenario, prompt: Prompt, sample: int) -> Transcript:
        tools = prompt.tools   # the same tuple on every turn: providers memoize its conversion
        env = ToolEnv(scenario, [t["name"] for t in tools] if tools else scenario.agent.tools)
        system = self.options.system_prompt if self.options.system_prompt is not None else prompt.system
        turns: list[Turn] = [UserTurn(prompt.user)]
        texts: list[str] = []
        usage: dict[str, int] = {}
        stop: str | None = None
        error: str | None = None
        try:
            for turn_no in range(self.options.max_turns):
                reply = await self.request(system, turns, tools, sample=sample)
                add_usage(usage, reply.usage)
                calls = list(reply.tool_calls)
                shown = reply.text
                if not calls:
                    parsed = parse_text_calls(reply.text)
                    if parsed:
                        shown = strip_calls(reply.text, parsed)
                        calls = [ToolCall(f"text-{turn_no}-{i}", c.name, c.args, native=False) for i, c in enumerate(parsed)]
                if shown.strip():
                    texts.append(shown.strip())
                stop = reply.stop_reason
                if not calls:
                    break
                results = []
                for call in calls:
                    action = env.call(call.name, call.args)
                    content = action.result or ""
                    results.append(ToolResult(call, content, content.startswith("Error:")))
                turns += [AssistantTurn(reply.text, tuple(calls)), ResultsTurn(tuple(results))]
            else:
                stop = "max_turns"
        except AgentError as exc:
            error, stop = f"{self.spec}: {exc}", "error"
        except Exception as exc:  # noqa: BLE001 - act never raises for a model failure
            error, stop = f"{self.spec}: {type(exc).__name__}: {exc}", "error"
            unexpected.note(exc, f"agent {self.spec}")  # a bug, not a model failure: keep its traceback
        if error is not None:
            self.stats.errors += 1
        return Transcript(
            model=self.spec, sample=sample, actions=tuple(env.actions), final_text="\n\n".join(texts),
            scenario=scenario.id, error=error, stop_reason=stop, simulated=False, usage=usage,
        )

    async def complete_text(self, system: str, user: str, *, sample: int = 0) -> str:
        """A plain one-turn text completion (no tools) through the same cache, retries and limit.

        For the LLM judge. Raises ``AgentError`` when the request fails for good.
        """
        reply = await self.request(system, [UserTurn(user)], [], sample=sample)
        return reply.text

    async def aclose(self) -> None:
        await self.provider.aclose()

    def __repr__(self) -> str:
        return f"ToolLoopAgent({self.spec!r}, {self.stats})"
