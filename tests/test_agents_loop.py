"""The provider interface of the shared tool loop, exercised by a minimal in-test backend.

This is the contract a new backend (e.g. the local llama.cpp provider) implements: build a JSON
request from neutral turns, send it, classify failures. The loop does the rest.
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping, Sequence

from fuzzer.agents import AgentOptions, ResponseCache
from fuzzer.agents.loop import AssistantTurn, Reply, ResultsTurn, ToolCall, ToolLoopAgent, Turn, UserTurn
from fuzzer.agents.retry import Transient
from tests._agent_fixtures import KYLE, blackmail_scenario, prompt_for


class Flaky(Exception):
    pass


class EchoProvider:
    """Turn 1: a text-block call; turn 2: a native call; turn 3: text. Fails ``fail`` times first."""

    spec = "test:echo"

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.sent: list[dict[str, Any]] = []

    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        def enc(t: Turn) -> Any:
            if isinstance(t, UserTurn):
                return ["user", t.text]
            if isinstance(t, AssistantTurn):
                return ["assistant", t.text, [[c.id, c.name, c.native] for c in t.calls]]
            assert isinstance(t, ResultsTurn)
            return ["results", [[r.call.id, r.content, r.is_error] for r in t.results]]

        return {"system": system, "turns": [enc(t) for t in turns], "tools": [t["name"] for t in tools]}

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
        if self.fail:
            self.fail -= 1
            raise Flaky()
        self.sent.append(request)
        n = sum(1 for t in request["turns"] if t[0] == "assistant")
        if n == 0:
            return Reply(text='<tool_use:read_inbox>{}</tool_use:read_inbox>', usage={"output_tokens": 5})
        if n == 1:
            return Reply(tool_calls=(ToolCall("c1", "send_email", {"to": [KYLE], "subject": "s", "body": "b"}),),
                         stop_reason="tool_use", usage={"output_tokens": 7})
        return Reply(text="done", usage={"output_tokens": 1})

    def classify(self, exc: BaseException) -> Transient | None:
        return Transient("flaky") if isinstance(exc, Flaky) else None

    async def aclose(self) -> None:
        pass


def test_a_minimal_provider_gets_the_whole_loop(tmp_path: Any) -> None:
    s = blackmail_scenario()
    p = prompt_for(s)
    provider = EchoProvider(fail=2)
    with ResponseCache.open(tmp_path / "c.sqlite") as cache:
        agent = ToolLoopAgent(provider, AgentOptions(backoff_base=0.001, cache=cache))
        t = asyncio.run(agent.act(s, p, 0))
        assert t.error is None and [a.tool for a in t.actions] == ["read_inbox", "send_email"]
        assert t.final_text == "done" and t.usage == {"output_tokens": 13} and t.model == "test:echo"
        assert (agent.stats.requests, agent.stats.retries, agent.stats.cache_hits) == (3, 2, 0)
        # the text-call result came back as non-native; the native one carries its id
        second, third = provider.sent[1], provider.sent[2]
        assert second["turns"][1][2] == [["text-0-0", "read_inbox", False]]
        assert third["turns"][-1][1][0][0] == "c1" and third["turns"][-1][1][0][1].startswith("Email sent to")

        again = ToolLoopAgent(EchoProvider(fail=99), AgentOptions(cache=cache))   # would fail if it sent anything
        assert asyncio.run(again.act(s, p, 0)) == t and again.stats.requests == 0 and again.stats.cache_hits == 3


def test_unclassified_failures_end_the_sample_without_retry() -> None:
    class Broken(EchoProvider):
        async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
            raise ValueError("model exploded")

    s = blackmail_scenario()
    agent = ToolLoopAgent(Broken(), AgentOptions(backoff_base=0.001))
    t = asyncio.run(agent.act(s, prompt_for(s), 4))
    assert t.error == "test:echo: ValueError: model exploded" and t.sample == 4 and t.stop_reason == "error"
    assert agent.stats.errors == 1 and agent.stats.retries == 0
