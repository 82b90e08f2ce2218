"""The openai adapter end to end: the real ``openai`` SDK against a loopback chat-completions API."""

from __future__ import annotations

from typing import Any

import pytest

from fuzzer.agents import AgentOptions, ResponseCache, load_agent
from fuzzer.errors import SpecError
from fuzzer.transcript import Transcript
from tests._agent_fixtures import KYLE, act_all, blackmail_scenario, prompt_for
from tests.loopback import Fault, ServerReply, ToolUse, by_turn, conversation, openai_server

SEND = ToolUse("send_email", {"to": [KYLE], "subject": "Re: 5pm", "body": "Cancel the wipe."})


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)   # local servers need no key
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def run_samples(agent: Any, samples: int = 1) -> list[Transcript]:
    scenario = blackmail_scenario()
    prompt = prompt_for(scenario)

    return act_all(agent, scenario, prompt, range(samples))


@pytest.mark.parametrize("stream", [False, True])
def test_native_tool_calls_loop(stream: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = by_turn(ServerReply("Checking.", [ToolUse("read_inbox", {}), SEND]), "Done.")
    with openai_server(policy) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        agent = load_agent("openai:local-model", AgentOptions(stream=stream, temperature=0.7, max_tokens=300))
        [t] = run_samples(agent)
        first, second = srv.log.bodies()
        assert [e.stream for e in srv.log.entries] == [stream, stream]
    assert t.error is None and t.stop_reason == "end_turn" and t.model == "openai:local-model"
    assert [a.tool for a in t.actions] == ["read_inbox", "send_email"] and t.actions[1].args["to"] == [KYLE]
    assert t.final_text == "Checking.\n\nDone." and t.usage["input_tokens"] > 0
    # the request: system first, tools as functions, local-server token limit, temperature
    assert first["messages"][0]["role"] == "system" and first["messages"][1]["role"] == "user"
    assert first["tools"][0] == {"type": "function", "function": {
        "name": "send_email", "description": prompt_for(blackmail_scenario()).tools[0]["description"],
        "parameters": prompt_for(blackmail_scenario()).tools[0]["input_schema"]}}
    assert first["max_tokens"] == 300 and first["temperature"] == 0.7
    # results go back as role=tool messages answering each tool_call id
    assistant, r1, r2 = second["messages"][2:5]
    assert [c["id"] for c in assistant["tool_calls"]] == [r1["tool_call_id"], r2["tool_call_id"]]
    assert r1["role"] == "tool" and "keep our affair between us" in r1["content"]
    assert r2["content"].startswith("Email sent to kyle@summitbridge.com")


def test_text_block_fallback() -> None:
    text = "<tool_use:lock_account>\nuser: kyle@summitbridge.com\nreason: security review\n</tool_use:lock_account>"
    with openai_server(by_turn(text, "Locked.")) as srv:
        [t] = run_samples(load_agent("openai:m", AgentOptions(base_url=srv.base_url)))
        fed_back = srv.log.bodies()[1]["messages"][-1]
    assert [(a.tool, a.args) for a in t.actions] == [("lock_account", {"user": KYLE, "reason": "security review"})]
    assert fed_back["role"] == "user" and fed_back["content"].startswith("<tool_result:lock_account>\nAccount kyle@")


def test_malformed_function_arguments_are_an_error_result() -> None:
    with openai_server(by_turn(ServerReply(tool_calls=[ToolUse("send_email", '{"to": [')]), "ok")) as srv:
        [t] = run_samples(load_agent("openai:m", AgentOptions(base_url=srv.base_url)))
    assert t.actions[0].result.startswith("Error: arguments for send_email must be a JSON object")
    assert t.actions[0].args == {"_raw": '{"to": ['}


def test_retries_and_cache(tmp_path: Any) -> None:
    with openai_server(faults=[Fault.rate_limited(ms=5), Fault.server_error()]) as srv, \
            ResponseCache.open(tmp_path / "c.sqlite") as cache:
        options = AgentOptions(base_url=srv.base_url, backoff_base=0.01, cache=cache)
        agent = load_agent("openai:m", options)
        [t] = run_samples(agent)
        assert t.error is None and agent.stats.retries == 2 and srv.log.count == 3
        again = load_agent("openai:m", options)
        assert run_samples(again) == [t] and again.stats.requests == 0 and srv.log.count == 3


def test_final_failure_is_an_error_transcript() -> None:
    with openai_server(lambda req: Fault(503, "server_error", "upstream down")) as srv:
        agent = load_agent("openai:m", AgentOptions(base_url=srv.base_url, backoff_base=0.001, max_retries=1))
        [t] = run_samples(agent)
        assert srv.log.count == 2
    assert t.error is not None and "HTTP 503" in t.error and "upstream down" in t.error
    assert agent.stats.errors == 1


def test_key_or_url_is_required() -> None:
    with pytest.raises(SpecError, match="OPENAI_API_KEY"):
        load_agent("openai:gpt-x")


def test_hosted_endpoint_uses_max_completion_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    agent = load_agent("openai:gpt-x", AgentOptions(max_tokens=64, temperature=None))
    request = agent.provider.build_request("sys", [], [])
    assert request["max_completion_tokens"] == 64 and "max_tokens" not in request and "temperature" not in request
    assert conversation(request).system == "sys"


def test_cached_prompt_tokens_are_reported_as_cache_reads() -> None:
    from fuzzer.agents.openai_agent import chat_usage

    assert chat_usage({"prompt_tokens": 1200, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 1024}}) == {
        "input_tokens": 176, "output_tokens": 9, "cache_read_input_tokens": 1024}
    assert chat_usage({"prompt_tokens": 50, "completion_tokens": 2, "prompt_tokens_details": None}) == {
        "input_tokens": 50, "output_tokens": 2}
