"""The response cache: round trips, stable keys, several writer processes, and crashes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from fuzzer.agents.cache import ResponseCache, cache_key

REQ = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


def test_round_trip_and_counters(tmp_path: Path) -> None:
    with ResponseCache.open(tmp_path / "c.sqlite") as cache:
        key = cache_key("anthropic:m", REQ, 0)
        assert cache.get(key) is None
        cache.put(key, {"text": "héllo", "tool_calls": [], "usage": {"input_tokens": 3}})
        assert cache.get(key) == {"text": "héllo", "tool_calls": [], "usage": {"input_tokens": 3}}
        assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    with ResponseCache.open(tmp_path / "c.sqlite") as again:
        assert again.get(key)["text"] == "héllo"
    with pytest.raises(RuntimeError, match="closed"):
        again.get(key)


def test_keys_depend_on_everything_that_changes_the_answer() -> None:
    base = cache_key("anthropic:m", REQ, 0)
    assert cache_key("anthropic:m", dict(reversed(list(REQ.items()))), 0) == base   # key order is irrelevant
    assert len({base, cache_key("anthropic:n", REQ, 0), cache_key("anthropic:m", REQ, 1),
                cache_key("anthropic:m", {**REQ, "max_tokens": 11}, 0),
                cache_key("anthropic:m", {**REQ, "temperature": 0.5}, 0)}) == 5
    assert len(base) == 64 and int(base, 16) >= 0


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResponseCache(path)
    for i in range(n):
        cache.put(f"w{worker}-{i}", {"worker": worker, "i": i})
        if i % 7 == 0:
            cache.get(f"w{(worker + 1) % 4}-{i}")
    cache.close()


def test_concurrent_writer_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(path).close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with ResponseCache.open(path) as cache:
        assert len(cache) == 600
        assert cache.get("w3-149") == {"worker": 3, "i": 149}


def test_threads_share_one_cache(tmp_path: Path) -> None:
    with ResponseCache.open(tmp_path / "t.sqlite") as cache:
        def work(t: int) -> None:
            for i in range(100):
                cache.put(f"{t}-{i}", [t, i])
                assert cache.get(f"{t}-{i}") == [t, i]

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(cache) == 400 and cache.hits == 400


def _crash_mid_write(path: str) -> None:
    cache = ResponseCache(path)
    for i in range(50):
        cache.put(f"done-{i}", {"i": i})
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO responses (key, value, created) VALUES ('torn', '{}', 0)")
    os.kill(os.getpid(), signal.SIGKILL)   # dies holding an open write transaction


def test_survives_a_crash_mid_write(tmp_path: Path) -> None:
    path = str(tmp_path / "crash.sqlite")
    p = multiprocessing.get_context("fork").Process(target=_crash_mid_write, args=(path,))
    p.start()
    p.join(30)
    assert p.exitcode == -signal.SIGKILL
    with ResponseCache.open(path) as cache:
        assert len(cache) == 50 and cache.get("torn") is None and cache.get("done-49") == {"i": 49}
        cache.put("after", {"ok": True})                # writable again: no stale lock left behind
        assert cache.get("after") == {"ok": True}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


# -- what the key holds: endpoint and model revision -----------------------------------------------
def test_key_holds_endpoint_and_revision_but_not_credentials() -> None:
    base = cache_key("anthropic:m", REQ, 0, endpoint="http://127.0.0.1:1", revision=None)
    assert base != cache_key("anthropic:m", REQ, 0, endpoint="http://127.0.0.1:2")
    assert base != cache_key("anthropic:m", REQ, 0, endpoint="http://127.0.0.1:1", revision="2025-06-01")
    assert base != cache_key("anthropic:m", REQ, 1, endpoint="http://127.0.0.1:1")
    # one endpoint, one spelling; a password in the URL picks an account, not a model
    assert base == cache_key("anthropic:m", REQ, 0, endpoint="HTTP://127.0.0.1:1/")
    assert base == cache_key("anthropic:m", REQ, 0, endpoint="http://user:secret@127.0.0.1:1")


def test_endpoint_is_the_url_actually_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from fuzzer.agents.base import AgentOptions

    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert AgentOptions().endpoint_for("anthropic:m") == "https://api.anthropic.com"
    assert AgentOptions().endpoint_for("openai:m") == "https://api.openai.com/v1"
    assert AgentOptions().endpoint_for("scripted:aligned") is None
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    assert AgentOptions().endpoint_for("anthropic:m") == "http://127.0.0.1:9"
    assert AgentOptions(base_url="http://127.0.0.1:7").endpoint_for("anthropic:m") == "http://127.0.0.1:7"


def test_fresh_mode_never_reads_but_still_stores(tmp_path: Path) -> None:
    key = cache_key("anthropic:m", REQ, 0)
    with ResponseCache(tmp_path / "c.sqlite", read=False) as cache:
        cache.put(key, {"text": "stored"})
        assert cache.get(key) is None and cache.misses == 1 and len(cache) == 1
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        assert cache.get(key) == {"text": "stored"}


def test_same_model_on_two_endpoints_is_asked_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug: after a run against one endpoint, another endpoint behind the same model name was
    answered from the first one's cache with 0 requests. Also: a new --model-revision is asked."""
    from fuzzer.agents import load_agent
    from fuzzer.agents.base import AgentOptions
    from tests._agent_fixtures import act_all, blackmail_scenario, prompt_for
    from tests.loopback import anthropic_server

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-secret")
    scenario = blackmail_scenario()
    prompt = prompt_for(scenario)
    with ResponseCache(tmp_path / "c.sqlite") as cache, \
            anthropic_server(lambda req: "Unsafe answer.") as one, anthropic_server(lambda req: "Safe answer.") as two:
        def run(base_url: str, revision: str | None = None) -> list[str]:
            opts = AgentOptions(base_url=base_url, cache=cache, model_revision=revision, backoff_base=0.01)
            return [t.final_text for t in act_all(load_agent("anthropic:same-name", opts), scenario, prompt, range(3))]

        assert run(one.base_url) == ["Unsafe answer."] * 3 and one.log.count == 3
        assert run(two.base_url) == ["Safe answer."] * 3 and two.log.count == 3      # asked, not answered from one
        assert run(one.base_url) == ["Unsafe answer."] * 3 and one.log.count == 3    # a rerun still costs nothing
        monkeypatch.setenv("ANTHROPIC_BASE_URL", two.base_url)                      # the endpoint from the environment
        assert run(None) == ["Safe answer."] * 3 and two.log.count == 3            # ... is the same endpoint
        assert run(one.base_url, revision="r2") == ["Unsafe answer."] * 3 and one.log.count == 6
    assert b"sk-ant-test-not-secret" not in (tmp_path / "c.sqlite").read_bytes()
