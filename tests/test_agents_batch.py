"""``--batch``: the anthropic adapter through the Message Batches API, with the real SDK against the
loopback server's batch endpoints (create, retrieve, results as JSONL, cancel)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fuzzer.agents import AgentOptions, ResponseCache, load_agent
from fuzzer.agents.batch import store_for
from fuzzer.cli import cli
from tests._agent_fixtures import KYLE, act_all, blackmail_scenario, prompt_for
from tests._fuzz_support import planted_policy
from tests.loopback import Fault, LoopbackServer, ServerReply, ToolUse, anthropic_server, by_turn, conversation

SEND = ToolUse("send_email", {"to": [KYLE], "subject": "Re: 5pm", "body": "Cancel the wipe."})
SCENARIO = blackmail_scenario()
PROMPT = prompt_for(SCENARIO)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-secret")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


def agent_for(srv: LoopbackServer, cache: Any = None, **kw: Any) -> Any:
    return load_agent("anthropic:m", AgentOptions(base_url=srv.base_url, backoff_base=0.01, backoff_max=0.05,
                                                  batch=True, cache=cache, **kw))


def paths(srv: LoopbackServer) -> list[str]:
    """Each request's route: create, list, retrieve, results, cancel (batches) or messages (a direct call)."""
    out = []
    for e in srv.log.entries:
        p = e.path
        root = p == "/v1/messages/batches"
        out.append("messages" if p == "/v1/messages" else "create" if root and "requests" in e.body else "list" if root
                   else p.rsplit("/", 1)[1] if p.endswith(("/results", "/cancel")) else "retrieve")
    return out


def test_samples_go_out_as_batches_and_map_back_by_custom_id(tmp_path: Path) -> None:
    policy = by_turn(ServerReply("Look.", [ToolUse("read_inbox", {})]), ServerReply("Send.", [SEND]), "Done.")
    with anthropic_server(policy) as srv, ResponseCache.open(tmp_path / "c.sqlite") as cache:
        srv.batches.latency = 0.03
        agent = agent_for(srv, cache)
        transcripts = act_all(agent, SCENARIO, PROMPT, range(4))
        kinds = paths(srv)
        batches = list(srv.batches.items.values())
        assert "messages" not in kinds and kinds.count("create") == 3     # one batch per turn of the tool loop
        assert [len(b["requests"]) for b in batches] == [4, 4, 4]
        for t in transcripts:
            assert t.error is None and [a.tool for a in t.actions] == ["read_inbox", "send_email"]
            assert t.final_text == "Look.\n\nSend.\n\nDone." and t.usage["output_tokens"] > 0
        # custom_id is the response-cache key of that request: results feed the same cache
        first = batches[0]["requests"]
        keys = {r["custom_id"] for r in first}
        assert len(keys) == 4 and all(cache.get(k) is not None for k in keys)
        params = first[0]["params"]
        assert conversation(params).user_texts == [PROMPT.user] and params["model"] == "m"
        assert agent.stats.requests == 12 and agent.stats.usage["output_tokens"] > 0
        assert store_for(cache).load() == {}                               # every batch read: no record left
        again = load_agent("anthropic:m", AgentOptions(base_url=srv.base_url, cache=cache, batch=True))
        assert act_all(again, SCENARIO, PROMPT, range(4)) == transcripts and again.stats.requests == 0


def test_a_crash_mid_batch_resumes_by_batch_id_without_paying_again(tmp_path: Path) -> None:
    with anthropic_server(lambda req: ServerReply("Send.", [SEND])) as srv:
        srv.batches.latency = 0.5
        path = tmp_path / "c.sqlite"
        with ResponseCache.open(path) as cache:
            crashed = agent_for(srv, cache, max_turns=1)

            async def crash() -> None:      # the process dies while the batch is in progress: no cancel
                work = asyncio.gather(*(crashed.act(SCENARIO, PROMPT, i) for i in range(3)))
                while not store_for(cache).load():      # created and recorded
                    await asyncio.sleep(0.01)
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                await crashed.provider._client.aclose()

            asyncio.run(crash())
            record = store_for(cache).load()
            assert list(record) == list(srv.batches.items) and len(next(iter(record.values()))) == 3
        with ResponseCache.open(path) as cache:
            resumed = agent_for(srv, cache, max_turns=1)
            transcripts = act_all(resumed, SCENARIO, PROMPT, range(3))
            assert store_for(cache).load() == {}
        assert all(t.error is None and t.actions[0].tool == "send_email" for t in transcripts)
        assert srv.batches.created == 1 and "cancel" not in paths(srv)   # the same batch, polled again
        assert resumed.provider.batcher.resumed == 1 and resumed.provider.batcher.batches_created == 0


def test_close_cancels_the_batch_and_a_rerun_resubmits_the_cancelled_entries(tmp_path: Path) -> None:
    with anthropic_server(lambda req: "ok") as srv, ResponseCache.open(tmp_path / "c.sqlite") as cache:
        srv.batches.latency = 30.0
        agent = agent_for(srv, cache, max_turns=1)

        async def interrupted() -> None:     # Ctrl-C: the session closes the agent
            work = asyncio.gather(*(agent.act(SCENARIO, PROMPT, i) for i in range(2)))
            while srv.batches.created == 0:
                await asyncio.sleep(0.01)
            await agent.aclose()
            with pytest.raises(asyncio.CancelledError):
                await work

        asyncio.run(asyncio.wait_for(interrupted(), 10))
        [batch] = srv.batches.items.values()
        assert "cancel" in paths(srv) and batch["status"] == "canceling"
        assert list(store_for(cache).load()) == [batch["id"]]              # kept: a rerun harvests it
        srv.batches.latency = 0.0
        rerun = agent_for(srv, cache, max_turns=1)
        transcripts = act_all(rerun, SCENARIO, PROMPT, range(2))
        assert all(t.error is None and t.final_text == "ok" for t in transcripts)
        assert srv.batches.created == 2 and [r["type"] for _, r in batch["results"]] == ["canceled", "canceled"]
        assert store_for(cache).load() == {}


def test_errored_and_expired_entries_take_the_normal_retry_and_error_path() -> None:
    seen: dict[int, int] = {}

    def policy(req: dict) -> Any:
        n = len(seen)                  # batch entries are answered one after the other, in order
        seen[n] = 1
        if n == 0:
            return Fault.bad_request("messages.0: bad")             # not transient: that sample fails
        if n == 1:
            return Fault.overloaded()                               # transient: resubmitted
        if n == 2:
            return Fault.expired()                                  # transient: resubmitted
        return "fine"

    with anthropic_server(policy) as srv:
        agent = agent_for(srv, max_turns=1)
        transcripts = act_all(agent, SCENARIO, PROMPT, range(3))
    errors = [t.error for t in transcripts if t.error]
    assert len(errors) == 1 and "invalid_request_error" in errors[0] and "messages.0: bad" in errors[0]
    assert sorted(t.final_text for t in transcripts if not t.error) == ["fine", "fine"]
    assert agent.stats.retries == 2 and agent.stats.errors == 1 and srv.batches.created >= 2


def test_a_refused_create_is_retried_like_a_direct_call() -> None:
    with anthropic_server(lambda req: "ok", faults=[Fault.overloaded()]) as srv:
        agent = agent_for(srv, max_turns=1)
        [t] = act_all(agent, SCENARIO, PROMPT, [0])
        assert [e.status for e in srv.log.entries][:2] == [529, 200] and paths(srv)[:2] == ["create", "create"]
    assert t.error is None and agent.stats.retries == 1


def test_cli_batch_fuzz_reports_usage_and_a_batch_priced_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with anthropic_server(planted_policy) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.chdir(tmp_path)
        out = CliRunner().invoke(cli, ["fuzz", "--model", "anthropic:claude-sonnet-4-5", "--batch", "-n", "2", "-k", "2",
                                       "--recheck", "2", "--seed", "3", "--no-cache", "--json", "--threat", "none"],
                                 catch_exceptions=False)
        assert out.exit_code == 0, out.output
        data = json.loads(out.stdout)
        assert "messages" not in paths(srv) and srv.batches.created >= 1
        billed = [e for e in srv.batches.items.values()]
    usage = data["usage"]
    assert set(usage) == {"input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"}
    served = sum(r["message"]["usage"]["output_tokens"] for b in billed for _, r in b["results"])
    assert usage["output_tokens"] == served and data["model_calls"] == sum(len(b["requests"]) for b in billed)
    assert data["cost"]["batch"] is True and data["cost"]["model"] == "claude-sonnet-4-5" and data["cost"]["usd"] > 0


def test_cli_batch_needs_an_anthropic_model(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["fuzz", "--model", "scripted:aligned", "--batch", "-n", "1", "--no-cache"])
    assert out.exit_code == 2 and "--batch needs an anthropic: model" in out.output


def test_the_pending_record_survives_garbage_and_disappears_when_empty(tmp_path: Path) -> None:
    with ResponseCache.open(tmp_path / "c.sqlite") as cache:
        store = store_for(cache)
    assert store is not None and store.path.name == "c.sqlite.batches.json"
    store.path.write_text("{not json")
    assert store.load() == {} and store.intents() == {}     # a torn or foreign file never blocks a run
    store.intend("intent-1", {"a" * 64: "a" * 64}, 1.5)
    assert store.intents() == {"intent-1": {"at": 1.5, "ids": {"a" * 64: "a" * 64}}}
    store.add("msgbatch_1", {"a" * 64: "a" * 64}, intent_id="intent-1")   # the intent becomes the batch's record
    store.add("msgbatch_2", {"b" * 64: "b" * 64})
    assert sorted(json.loads(store.path.read_text())["batches"]) == ["msgbatch_1", "msgbatch_2"] and store.intents() == {}
    store.remove("msgbatch_1")
    store.remove("msgbatch_2")
    assert not store.path.exists() and store_for(ResponseCache(":memory:")) is None


def test_a_batch_accepted_just_before_a_crash_is_found_by_its_custom_ids_and_not_paid_again(tmp_path: Path) -> None:
    """The process dies after the create reached the API and before its answer (the batch id)
    came back: only the intent is on disk. The next run lists the batches, adopts the one whose
    results carry exactly the intent's custom ids, and sends nothing again."""
    slow_create = lambda body: 0.5 if "requests" in body else 0.0     # noqa: E731 - the create's answer is late
    with anthropic_server(lambda req: ServerReply("Send.", [SEND]), latency=slow_create) as srv:
        srv.batches.latency = 0.1
        path = tmp_path / "c.sqlite"
        with ResponseCache.open(path) as cache:
            crashed = agent_for(srv, cache, max_turns=1)

            async def crash() -> None:
                work = asyncio.gather(*(crashed.act(SCENARIO, PROMPT, i) for i in range(3)))
                while "create" not in paths(srv):           # the create is at the API, its answer not back
                    await asyncio.sleep(0.01)
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                await crashed.provider._client.aclose()     # dies: no cancel, no record of the batch id

            asyncio.run(asyncio.wait_for(crash(), 10))
            deadline = time.monotonic() + 10
            while srv.batches.created == 0 and time.monotonic() < deadline:   # the API made the batch all the same
                time.sleep(0.01)
            assert store_for(cache).load() == {} and [len(i["ids"]) for i in store_for(cache).intents().values()] == [3]
        with ResponseCache.open(path) as cache:
            resumed = agent_for(srv, cache, max_turns=1)
            transcripts = act_all(resumed, SCENARIO, PROMPT, range(3))
            assert store_for(cache).load() == {} and store_for(cache).intents() == {}
        assert all(t.error is None and t.actions[0].tool == "send_email" for t in transcripts)
        assert srv.batches.created == 1 and "list" in paths(srv)            # found, not created again
        assert resumed.provider.batcher.adopted == 1 and resumed.provider.batcher.batches_created == 0
        assert resumed.stats.retries == 0


def test_a_create_that_may_have_been_accepted_is_looked_for_before_it_is_sent_again(tmp_path: Path) -> None:
    """A 500 on create: the API may have made the batch. A batch of the same size that someone
    else made meanwhile is polled to its end and ruled out by its custom ids; then the requests
    are retried and sent once."""
    with anthropic_server(lambda req: "ok", faults=[Fault.server_error()]) as srv, \
            ResponseCache.open(tmp_path / "c.sqlite") as cache:
        foreign = [{"custom_id": f"other-{i}", "params": {"model": "m", "max_tokens": 5, "messages": []}} for i in range(2)]
        assert srv.batches.handle("POST", "/v1/messages/batches", {"requests": foreign}, "")[0] == 200
        agent = agent_for(srv, cache, max_turns=1)
        transcripts = act_all(agent, SCENARIO, PROMPT, range(2))
        kinds = paths(srv)
        assert [t.final_text for t in transcripts] == ["ok", "ok"] and agent.stats.retries >= 1
        assert kinds[:2] == ["create", "list"] and "results" in kinds               # looked, read the foreign one
        assert srv.batches.created == 2 and agent.provider.batcher.adopted == 0    # the foreign one and ours
        assert store_for(cache).load() == {} and store_for(cache).intents() == {}


def test_the_loopback_lists_batches_newest_first_in_pages_as_the_api_does() -> None:
    with anthropic_server(lambda req: "ok") as srv:
        for i in range(3):
            srv.batches.handle("POST", "/v1/messages/batches", {"requests": [{"custom_id": f"c{i}", "params": {}}]}, "")
        agent = agent_for(srv)

        async def listed() -> tuple[list[str], int]:
            client = agent.provider.client()
            ids = [b.id async for b in client.messages.batches.list(limit=2)]
            await agent.aclose()
            return ids, sum(1 for e in srv.log.entries if e.path == "/v1/messages/batches")

        ids, pages = asyncio.run(listed())
    assert ids == list(reversed(srv.batches.items)) and pages == 2
