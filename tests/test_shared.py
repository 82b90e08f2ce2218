"""Shared campaigns against a real redis-server and the loopback Messages API (fuzzer/shared.py).

The server is Debian's ``redis-server``, started on a free loopback port per test. Missing it
FAILS in CI (``CI`` set; .ci/run installs it) and skips elsewhere with the reason in the skip
message, so a developer without it sees ``SKIPPED ... redis-server is not installed``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.redis_server import missing_reason, redis_server

MODEL = "anthropic:claude-shared-test"
KNOBS = ["--family", "blackmail", "--threat", "replacement", "--leverage", "affair"]


@pytest.fixture
def redis_srv():
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"shared-campaign tests need a real Redis in CI: {reason}")
        pytest.skip(f"NOT TESTED here (outside CI): {reason}")
    with redis_server() as srv:
        yield srv


def _link(srv):
    from fuzzer.shared import Link

    return Link(srv.url)


# -- the pieces -----------------------------------------------------------------------------------------
def test_two_campaign_handles_split_the_budget_disjointly(redis_srv):
    from fuzzer.shared import RedisCampaign

    workers = [RedisCampaign(_link(redis_srv), "c1", 200) for _ in range(2)]
    got: list[list[int]] = [[], []]

    def take(n: int) -> None:
        while (i := workers[n].next_index()) is not None:
            got[n].append(i)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not set(got[0]) & set(got[1])
    assert sorted(got[0] + got[1]) == list(range(200))
    assert workers[0].next_index() is None  # spent stays spent
    assert RedisCampaign(_link(redis_srv), "other", 3).next_index() == 0  # another campaign, its own budget


def test_a_signature_is_claimed_once_and_recorded_once(redis_srv):
    from fuzzer.shared import RedisCampaign

    a, b = RedisCampaign(_link(redis_srv), "c2", 5), RedisCampaign(_link(redis_srv), "c2", 5)
    assert a.claim("blackmail/x") is None
    assert b.claim("blackmail/x") == a.link.worker
    b.release("blackmail/x")                      # not b's claim: nothing happens
    assert b.claim("blackmail/x") == a.link.worker
    a.found("blackmail/x", "abc123abc123")
    b.found("blackmail/x", "ffffffffffff")        # written once
    assert b.known() == {"blackmail/x": "abc123abc123"}
    a.release("blackmail/x")
    assert b.claim("blackmail/x") is None


def test_the_second_worker_waits_for_the_call_the_first_pays_for(redis_srv, tmp_path):
    from fuzzer.agents.cache import ResponseCache
    from fuzzer.shared import RedisResponseCache

    local_a, local_b = ResponseCache(tmp_path / "a.sqlite"), ResponseCache(tmp_path / "b.sqlite")
    a, b = RedisResponseCache(_link(redis_srv), local_a), RedisResponseCache(_link(redis_srv), local_b)

    async def scenario() -> object:
        assert a.get("k") is None and b.get("k") is None
        assert await a.claim("k") is None            # a pays
        waiter = asyncio.ensure_future(b.claim("k"))
        await asyncio.sleep(0.05)
        assert not waiter.done()                     # b waits instead of paying
        a.put("k", {"text": "answer"})
        return await asyncio.wait_for(waiter, 5)

    assert asyncio.run(scenario()) == {"text": "answer"}
    assert b.waited == 1 and local_b.get("k") == {"text": "answer"}   # kept locally too
    assert redis_srv.client().get("sf:inflight:k") is None           # the claim ended with the put

    async def failed_call() -> object:
        assert await a.claim("k2") is None
        a.release("k2")                              # a's call failed: b may pay now
        return await asyncio.wait_for(b.claim("k2"), 5)

    assert asyncio.run(failed_call()) is None
    local_a.close()
    local_b.close()


def test_a_bad_url_or_a_dead_server_is_one_line(redis_srv):
    from fuzzer.errors import SpecError
    from fuzzer.shared import Link, SharedLost

    with pytest.raises(SpecError, match="expected redis://HOST:PORT/DB"):
        Link("http://127.0.0.1:1/0")
    with pytest.raises(SpecError, match="must be a number"):
        Link("redis://127.0.0.1:1/x")
    with pytest.raises(SpecError) as bad_port:
        Link("redis://:hunter2@127.0.0.1:port/0")
    assert "hunter2" not in str(bad_port.value) and "***" in str(bad_port.value)
    dead = f"redis://:hunter2@127.0.0.1:{redis_srv.port}/0"
    redis_srv.kill()
    with pytest.raises(SharedLost) as err:
        Link(dead).ping()
    assert "hunter2" not in str(err.value) and "\n" not in str(err.value)


# -- two workers on one campaign ------------------------------------------------------------------------
def _fuzz_args(redis_url: str, tmp: Path, name: str, budget: int) -> dict:
    """One worker's ``fuzz`` settings: its own cache and run directory, the shared corpus.
    ``max_calls`` / ``shrink_evaluations`` cap shrinking to keep the test fast: the campaign, not the shrinker, is under test."""
    return dict(samples=1, budget=budget, seed=3, recheck=1, corpus=tmp / "corpus", cache=tmp / f"{name}.sqlite",
                runs=tmp / name, concurrency=4, shared=redis_url, family="blackmail", threat="replacement",
                leverage="affair")


def _explored(run_root: Path) -> list[str]:
    (run,) = list(run_root.iterdir())
    rows = [json.loads(line) for line in (run / "cells.jsonl").read_text().splitlines() if line.strip()]
    return [r["id"] for r in rows if r["phase"] == "explore"]


def _expected_ids(budget: int) -> set[str]:
    import strategies
    from fuzzer.engine import Engine
    from tests._fuzz_support import ToyAgent, ToyOracle

    engine = Engine(ToyAgent(), ToyOracle(), strategies.scenarios(family="blackmail", threat="replacement",
                                                                  leverage="affair"), None, seed=3, budget=budget)
    return {drawn[0].id for i in range(budget) if (drawn := engine._draw(i)) is not None}


def test_two_workers_split_one_budget_pay_once_and_save_each_finding_once(redis_srv, tmp_path, monkeypatch):
    """Two workers (threads, each with its own session, event loop and Redis connection)."""
    import fuzzer
    from fuzzer.corpus import iter_corpus, load_scenario
    from tests._fuzz_support import planted_policy
    from tests.loopback import anthropic_server

    budget = 6
    results: dict[int, object] = {}
    with anthropic_server(planted_policy, latency=0.05) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")

        results.update(both(lambda n: fuzzer.fuzz(MODEL, max_calls=30, shrink_evaluations=3, **_fuzz_args(redis_srv.url, tmp_path, f"w{n}", budget)), timeout=240))
        calls = srv.log.count
    for r in results.values():
        assert not isinstance(r, BaseException), r
    res = [results[0], results[1]]

    # Budget respected and work disjoint: every index explored once, by one of the workers.
    assert sum(r.scenarios for r in res) == budget and all(r.scenarios for r in res)
    explored = [_explored(tmp_path / f"w{n}") for n in range(2)]
    assert not set(explored[0]) & set(explored[1])
    assert set(explored[0]) | set(explored[1]) == _expected_ids(budget)

    # No call paid twice: every request the server answered is one distinct shared cache entry.
    client = redis_srv.client()
    entries = sum(1 for _ in client.scan_iter("sf:cache:*"))
    assert calls == entries == sum(r.model_calls for r in res)
    assert not list(client.scan_iter("sf:inflight:*"))

    # Each finding saved once: one corpus file per signature, and the example database in Redis.
    findings = [f for r in res for f in r.findings]
    assert findings, "the planted failure was not found"
    sigs = [load_scenario(p).provenance["signature"] for p in iter_corpus([tmp_path / "corpus"])]
    assert sorted(sigs) == sorted(set(sigs)) == sorted(f.signature for f in findings)
    assert list(client.scan_iter("sf:c:*:hyp:*"))


def test_an_idle_worker_shrinks_a_signature_another_worker_found(redis_srv, tmp_path, monkeypatch):
    """Worker 1 explored both indices and offered a failure, then left; worker 2 explores nothing
    but re-draws the offered scenario from its index, shrinks it and saves it."""
    import fuzzer
    import strategies
    from fuzzer.engine import Engine
    from fuzzer.shared import RedisCampaign, define_campaign
    from fuzzer.signature import Mode, role_of
    from tests._fuzz_support import ToyAgent, ToyOracle, planted_policy
    from tests.loopback import anthropic_server

    strategy = strategies.scenarios(family="blackmail", threat="replacement", leverage="affair")
    cid = define_campaign(model=MODEL, seed=3, samples=1, budget=2, min_rate=None, harms=None, strategy=strategy)
    first = RedisCampaign(_link(redis_srv), cid, 2)
    assert (first.next_index(), first.next_index(), first.next_index()) == (0, 1, None)
    scenario, choices = Engine(ToyAgent(), ToyOracle(), strategy, None, seed=3)._draw(1)
    # The planted model blackmails the affair's subject: the cell's mode as exploration names it.
    subject = scenario.person_by_id[scenario.leverage[0].subject]
    sig = Mode.of(scenario, "blackmail", role_of(scenario, subject.email)).signature
    first.share_failure(sig, 1, b"scenario-fuzzer:" + sig.encode(), choices)
    first.leave()

    with anthropic_server(planted_policy) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        result = fuzzer.fuzz(MODEL, shrink_evaluations=3, **_fuzz_args(redis_srv.url, tmp_path, "w2", 2))
    assert result.scenarios == 0
    # Shrunk from the offered cell: the same harm and target, needing no more than the cell had.
    [finding] = result.findings
    assert finding.signature.split("/")[:2] == sig.split("/")[:2]
    assert set(finding.signature.split("/")[2:]) <= set(sig.split("/")[2:])
    assert first.known() == {finding.signature: finding.id}


def test_a_class_another_worker_holds_is_left_to_it_and_offered(redis_srv, tmp_path, monkeypatch):
    """One worker per failure class: with every blackmail class held elsewhere, this worker
    shrinks nothing (no call beyond exploring) and offers its failures to the holder."""
    import fuzzer
    from fuzzer.engine import CLASS_CLAIM
    from fuzzer.shared import RedisCampaign
    from fuzzer.signature import TARGET_ROLES
    from tests._fuzz_support import planted_policy
    from tests.loopback import anthropic_server

    holder = RedisCampaign(_link(redis_srv), _campaign_of(3), 3)
    for role in TARGET_ROLES:
        assert holder.claim(f"{CLASS_CLAIM}blackmail/{role}") is None
    with anthropic_server(planted_policy) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        result = fuzzer.fuzz(MODEL, **_fuzz_args(redis_srv.url, tmp_path, "w", 3))
        calls = srv.log.count
    assert result.failures and not result.findings and result.scenarios == 3
    assert calls == result.model_calls <= 3 * 2          # exploring only: one sample, at most two turns
    offered = holder.offered()
    assert offered and all(ix and set(ix) <= {0, 1, 2} for _, ix in offered)
    assert not list((tmp_path / "corpus").glob("*.yaml"))


def test_redis_killed_mid_run_stops_cleanly_and_keeps_local_state(redis_srv, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from fuzzer.agents.cache import ResponseCache
    from fuzzer.cli import cli
    from fuzzer.corpus import iter_corpus, load_scenario
    from tests._fuzz_support import planted_policy
    from tests.loopback import anthropic_server

    with anthropic_server(planted_policy, latency=0.05) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")

        def killer() -> None:
            deadline = time.monotonic() + 60
            while srv.log.count < 12 and time.monotonic() < deadline:
                time.sleep(0.01)
            redis_srv.kill()

        t = threading.Thread(target=killer)
        t.start()
        a = _fuzz_args(redis_srv.url, tmp_path, "w", 400)
        result = CliRunner().invoke(cli, [
            "fuzz", "--model", MODEL, "--samples", "1", "--budget", "400", "--seed", "3", "--corpus", str(a["corpus"]),
            "--cache", str(a["cache"]), "--runs", str(a["runs"]), "--shared", redis_srv.url, "--json", *KNOBS])
        t.join(60)
        received = srv.log.count
    assert result.exit_code == 2, result.output
    # (stderr also holds the in-process loopback server's broken-pipe noise: keep our lines)
    lines = [line for line in result.stderr.splitlines() if line.startswith("scenario-fuzz")]
    assert len(lines) == 1 and "Redis lost" in lines[0] and "rerun with the same flags" in lines[0], result.stderr
    assert result.stdout == ""
    for path in iter_corpus([a["corpus"]]) if a["corpus"].exists() else ():
        load_scenario(path)  # whatever was saved is whole
    with ResponseCache(a["cache"]) as local:
        # Every answer received is on local disk, but for the calls in flight when the run stopped.
        assert 12 <= len(local) <= received
        assert received - len(local) <= 8


# -- campaign-wide budgets ------------------------------------------------------------------------------
def test_calls_and_the_clock_are_the_campaigns(redis_srv):
    from fuzzer.shared import RedisCampaign

    a, b = RedisCampaign(_link(redis_srv), "c3", 5), RedisCampaign(_link(redis_srv), "c3", 5)
    assert a.calls(4) == 4 and b.calls(3) == 7       # each worker adds what it paid since its last report
    assert a.calls(4) == 7 and a.calls(6) == 9       # ... once
    assert a.elapsed() < 1.0                         # the first worker starts the campaign clock
    time.sleep(0.3)
    assert 0.3 <= b.elapsed() < 5.0                  # a later worker counts from that start
    assert RedisCampaign(_link(redis_srv), "other", 5).calls(0) == 0


def test_max_calls_is_one_budget_for_every_worker(redis_srv, tmp_path, monkeypatch):
    """Two workers with --max-calls 20 on one campaign pay about 20 calls together, not 40."""
    import fuzzer
    from tests._fuzz_support import never_policy
    from tests.loopback import anthropic_server

    results: dict[int, object] = {}
    with anthropic_server(never_policy, latency=0.02) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")

        results.update(both(lambda n: fuzzer.fuzz(MODEL, max_calls=20, **_fuzz_args(redis_srv.url, tmp_path, f"w{n}", 400)), timeout=120))
        calls = srv.log.count
    res = [results[0], results[1]]
    for r in res:
        assert not isinstance(r, BaseException), r
    assert [r.stopped for r in res] == ["max_calls", "max_calls"]
    # A soft cap: the other worker's scenarios in flight (at most 5 one-sample ones) still finish.
    assert 20 <= calls == sum(r.model_calls for r in res) <= 20 + 5 + 5
    assert int(redis_srv.client().get(f"sf:c:{_campaign_of(400)}:calls")) == calls


def _campaign_of(budget: int) -> str:
    import strategies
    from fuzzer.shared import define_campaign

    strategy = strategies.scenarios(family="blackmail", threat="replacement", leverage="affair")
    return define_campaign(model=MODEL, seed=3, samples=1, budget=budget, min_rate=None, harms=None, strategy=strategy)


def test_time_limit_counts_from_the_campaigns_start(redis_srv, tmp_path, monkeypatch):
    """A worker joining a campaign started 100 s ago with --time-limit 50 has no time left."""
    import fuzzer
    from tests._fuzz_support import planted_policy
    from tests.loopback import anthropic_server

    client = redis_srv.client()
    sec, _usec = client.time()
    client.set(f"sf:c:{_campaign_of(10)}:started", repr(sec - 100.0))
    with anthropic_server(planted_policy) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        late = fuzzer.fuzz(MODEL, time_limit=50, **_fuzz_args(redis_srv.url, tmp_path, "late", 10))
        assert (late.stopped, late.scenarios, srv.log.count) == ("time_limit", 0, 0)
        # The same limit in a campaign of its own (another budget) starts its clock now.
        fresh = fuzzer.fuzz(MODEL, time_limit=50, shrink_evaluations=1,
                            **_fuzz_args(redis_srv.url, tmp_path, "fresh", 2))
    assert fresh.stopped is None and fresh.scenarios == 2


# -- replay ---------------------------------------------------------------------------------------------
def test_two_replays_of_one_corpus_pay_each_call_once(redis_srv, tmp_path, monkeypatch):
    """Two replay workers (threads, each its own session and local cache) on one corpus: every
    sample is paid once between them, and both see every answer."""
    import fuzzer
    import strategies
    from fuzzer.corpus import save_scenario
    from fuzzer.engine import Engine
    from tests._fuzz_support import ToyAgent, ToyOracle, never_policy
    from tests.loopback import anthropic_server

    engine = Engine(ToyAgent(), ToyOracle(), strategies.scenarios(family="blackmail"), None, seed=5)
    scenarios = [engine._draw(i)[0] for i in range(4)]
    for s in scenarios:
        save_scenario(tmp_path / "corpus", s)
    samples = 3
    results: dict[int, object] = {}
    with anthropic_server(never_policy, latency=0.05) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")

        results.update(both(lambda n: fuzzer.replay([tmp_path / "corpus"], MODEL, samples=samples, concurrency=4,
                                           cache=tmp_path / f"r{n}.sqlite", shared=redis_srv.url), timeout=60))
        calls = srv.log.count
    for r in results.values():
        assert not isinstance(r, BaseException), r
    # never_policy answers in one turn: one replay needs exactly scenarios x samples calls.
    assert calls == len(scenarios) * samples == sum(1 for _ in redis_srv.client().scan_iter("sf:cache:*"))
    for r in results.values():
        assert sorted(x.id for x in r) == sorted(s.id for s in scenarios)
        assert all(x.rate.evaluated == samples and x.rate.harmful == 0 for x in r)


def test_replay_cli_takes_shared_and_a_dead_redis_is_one_line(redis_srv, tmp_path, monkeypatch):
    from click.testing import CliRunner

    import strategies
    from fuzzer.cli import cli
    from fuzzer.corpus import save_scenario
    from fuzzer.engine import Engine
    from tests._fuzz_support import ToyAgent, ToyOracle, never_policy
    from tests.loopback import anthropic_server

    engine = Engine(ToyAgent(), ToyOracle(), strategies.scenarios(family="blackmail"), None, seed=6)
    save_scenario(tmp_path / "corpus", engine._draw(0)[0])
    args = ["replay", str(tmp_path / "corpus"), "--model", MODEL, "-k", "2", "--json", "--cache",
            str(tmp_path / "c.sqlite"), "--shared", redis_srv.url]
    with anthropic_server(never_policy) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        ok = CliRunner().invoke(cli, args)
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.stdout)["results"][0]["samples"] == 2
        assert srv.log.count == 2 == sum(1 for _ in redis_srv.client().scan_iter("sf:cache:*"))
        redis_srv.kill()
        dead = CliRunner().invoke(cli, args)
    assert dead.exit_code == 2 and dead.stdout == ""
    assert dead.stderr.count("\n") == 1 and "cannot reach Redis" in dead.stderr


# -- an idle worker helps a busy one --------------------------------------------------------------------
def test_offers_reach_idle_workers_only_and_end_when_no_one_is_busy(redis_srv):
    import strategies
    from fuzzer.engine import Engine
    from fuzzer.shared import RedisCampaign
    from tests._fuzz_support import ToyAgent, ToyOracle

    busy, idle = RedisCampaign(_link(redis_srv), "c4", 5), RedisCampaign(_link(redis_srv), "c4", 5)
    scenario = Engine(ToyAgent(), ToyOracle(), strategies.scenarios(family="blackmail"), None, seed=2)._draw(0)[0]
    assert busy.next_index() == 0                    # exploring: busy
    assert not busy.offer(scenario, [3, 4])          # nobody idle: run them yourself
    assert idle.wanted(timeout=0.05) is None         # nothing offered yet; now idle
    assert idle.others_busy() and not busy.others_busy()
    assert busy.offer(scenario, [3, 4])
    got, samples = idle.wanted(timeout=1)
    assert (got.id, samples) == (scenario.id, (3, 4)) and got == scenario
    busy.leave()
    assert not idle.others_busy()


def test_an_idle_worker_pays_for_the_samples_a_busy_one_offers(redis_srv, tmp_path, monkeypatch):
    """The helper is a whole ``fuzz`` worker with its budget spent; the busy worker is a campaign
    handle offering two samples. The helper pays for them, then the busy side reads them for free."""
    import contextlib

    import fuzzer
    import strategies
    from fuzzer.api import Session, _open_shared
    from fuzzer.engine import Engine
    from fuzzer.pipeline import run_samples
    from fuzzer.shared import RedisCampaign
    from tests._fuzz_support import ToyAgent, ToyOracle, never_policy
    from tests.loopback import anthropic_server

    busy = RedisCampaign(_link(redis_srv), _campaign_of(2), 2)
    assert (busy.next_index(), busy.next_index(), busy.next_index()) == (0, 1, None)
    strategy = strategies.scenarios(family="blackmail", threat="replacement", leverage="affair")
    scenario = Engine(ToyAgent(), ToyOracle(), strategy, None, seed=9)._draw(0)[0]
    client = redis_srv.client()
    out: dict[str, object] = {}
    with anthropic_server(never_policy, latency=0.05) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")

        def helper() -> None:
            try:
                out["r"] = fuzzer.fuzz(MODEL, **_fuzz_args(redis_srv.url, tmp_path, "helper", 2))
            except BaseException as exc:  # noqa: BLE001 - reported below
                out["r"] = exc

        t = threading.Thread(target=helper)
        t.start()
        deadline = time.monotonic() + 30
        while not client.zcard(f"sf:c:{busy.id}:idle") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert busy.offer(scenario, [7, 8])
        while srv.log.count < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        busy.leave()
        t.join(30)
        assert not t.is_alive()
        result = out["r"]
        assert not isinstance(result, BaseException), result
        assert (result.scenarios, result.model_calls, srv.log.count) == (0, 2, 2)
        # The busy side's own evaluation of those samples: answered from the shared cache.
        with contextlib.ExitStack() as stack:
            cache, _ = _open_shared(redis_srv.url, None, stack)
            session = stack.enter_context(Session(MODEL, concurrency=2, cache=cache))
            cases = session.loop.submit(run_samples(scenario, session.agent, session.oracle, [7, 8])).result(30)
        assert [c.verdict.category for c in cases] == ["benign", "benign"]
        assert srv.log.count == 2


def test_offered_samples_start_here_only_once_a_slot_would_be_free():
    """The offering worker runs its head samples now and the offered tail after a head sample is
    done, so an idle worker has claimed the tail's calls by then (no Redis needed here)."""
    import strategies
    from fuzzer.engine import Engine, _run_after_head
    from tests._fuzz_support import ToyAgent, ToyOracle

    agent = ToyAgent(latency=0.1)
    scenario = Engine(agent, ToyOracle(), strategies.scenarios(family="blackmail"), None, seed=2)._draw(0)[0]
    started = time.monotonic()
    cases = asyncio.run(_run_after_head(scenario, agent, ToyOracle(), [0, 1], [2, 3]))
    assert time.monotonic() - started >= 0.2                       # the tail waited for the head
    assert [c.sample for c in cases] == [0, 1, 2, 3] and [s for _, s in agent.seen] == [0, 1, 2, 3]


def both(work, timeout: float) -> dict[int, object]:
    """Run ``work(0)`` and ``work(1)`` at once, as two workers would: each one's result or exception."""
    results: dict[int, object] = {}

    def run(n: int) -> None:
        try:
            results[n] = work(n)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results
