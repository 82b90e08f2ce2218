"""The price table and cost estimate, and the usage totals ``fuzz`` / ``replay --json`` report
(summed over the requests the loopback Messages API actually answered)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fuzzer.cli import cli
from fuzzer.api import fuzz
from fuzzer.costs import PRICES_ENV, Price, cache_share, estimate, load_prices, price_for, run_cost, usage_totals
from fuzzer.errors import SpecError
from tests._fuzz_support import planted_policy
from tests.loopback import anthropic_server

MILLION = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "cache_read_input_tokens": 1_000_000,
           "cache_creation_input_tokens": 1_000_000}


def test_prices_match_names_and_dated_snapshots_only() -> None:
    table, source = load_prices(None)
    assert source == "built-in"
    assert price_for("anthropic:claude-sonnet-4-5", table)[0] == "claude-sonnet-4-5"
    assert price_for("anthropic:claude-sonnet-4-5-20250929", table)[0] == "claude-sonnet-4-5"
    assert price_for("anthropic:claude-opus-4-5", table)[1] == Price(5, 25)      # not opus-4's $15
    assert price_for("anthropic:claude-opus-4-9", table) is None                 # unknown: no guess
    assert price_for("openai:claude-sonnet-4-5", table) is None                  # bare names are anthropic's
    assert estimate("python:pkg.mod:factory", {}) is None                       # someone else's code: no guess


def test_cost_prices_cache_reads_writes_and_batches() -> None:
    # sonnet: 3 input, 15 output, read 0.1x input, write 1.25x input, per million tokens
    assert estimate("anthropic:claude-sonnet-4-5", MILLION)["usd"] == pytest.approx(3 + 15 + 0.3 + 3.75)
    assert estimate("anthropic:claude-sonnet-4-5", MILLION, batch=True)["usd"] == pytest.approx((3 + 15 + 0.3 + 3.75) / 2)
    assert usage_totals({"output_tokens": 4}) == {"input_tokens": 0, "output_tokens": 4,
                                                  "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    assert cache_share({"input_tokens": 10, "cache_read_input_tokens": 70, "cache_creation_input_tokens": 20}) == 0.7
    assert cache_share({}) is None


def test_a_price_file_overrides_and_adds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"claude-sonnet-4-5": {"input": 1, "output": 2},
                                "openai:my-model": {"input": 0.5, "output": 1, "cache_read": 0.25}}))
    monkeypatch.setenv(PRICES_ENV, str(path))
    table = load_prices()
    assert table[1] == str(path)
    assert estimate("anthropic:claude-sonnet-4-5", {"input_tokens": 10**6, "output_tokens": 10**6}, prices=table)["usd"] == 3
    assert estimate("openai:my-model", {"input_tokens": 10**6, "cache_read_input_tokens": 10**6}, prices=table)["usd"] == 0.75
    assert estimate("anthropic:claude-haiku-4-5", {"output_tokens": 10**6}, prices=table)["usd"] == 5   # built-in kept


@pytest.mark.parametrize("content, needle", [
    ("{nope", "not JSON"),
    ('["x"]', "must be a JSON object"),
    ('{"m": {"input": 1}}', "m.output: missing"),
    ('{"m": {"input": 1, "output": -2}}', "m.output: -2 is not a price"),
    ('{"m": {"input": 1, "output": 2, "cached": 1}}', "m.cached: unknown field"),
])
def test_a_bad_price_file_is_one_line_naming_file_and_field(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(SpecError, match=str(path)) as info:
        load_prices(path)
    assert needle in str(info.value)
    out = CliRunner().invoke(cli, ["fuzz", "--model", "scripted:aligned", "-n", "1", "--no-cache", "--prices", str(path)])
    assert out.exit_code == 2 and needle in out.output and len(out.output.strip().splitlines()) == 1


def test_fuzz_and_replay_json_sum_the_usage_the_server_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with anthropic_server(planted_policy) as srv:
        srv.prompt_cache.min_tokens = 100
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-secret")
        monkeypatch.chdir(tmp_path)
        run = CliRunner().invoke(cli, ["fuzz", "--model", "anthropic:claude-sonnet-4-5", "-n", "3", "-k", "2", "--seed", "3",
                                       "--recheck", "2", "--cache", "c.sqlite", "--json", "--threat", "replacement",
                                       "--leverage", "affair", "--no-ethical-options"], catch_exceptions=False)
        data = json.loads(run.stdout)
        served: dict[str, int] = {}
        for e in srv.log.ok():
            for k, v in e.usage.items():
                served[k] = served.get(k, 0) + v
        assert data["model_calls"] == len(srv.log.ok()) > 0
        assert {k: data["usage"][k] for k in served} == served and data["usage"]["output_tokens"] > 0
        assert data["usage"]["cache_read_input_tokens"] > 0             # samples and turns shared their prefix
        assert data["cost"]["model"] == "claude-sonnet-4-5" and data["cost"]["batch"] is False and data["cost"]["usd"] > 0

        before = srv.log.count
        again = CliRunner().invoke(cli, ["fuzz", "--model", "anthropic:claude-sonnet-4-5", "-n", "3", "-k", "2", "--seed", "3",
                                         "--recheck", "2", "--cache", "c.sqlite", "--json", "--threat", "replacement",
                                         "--leverage", "affair", "--no-ethical-options"], catch_exceptions=False)
        assert srv.log.count == before and set(json.loads(again.stdout)["usage"].values()) == {0}   # cache: nothing billed

        paths = [f["path"] for f in data["findings"]]
        assert paths, data
        answered = len(srv.log.ok())
        out = CliRunner().invoke(cli, ["replay", *paths, "--model", "anthropic:claude-sonnet-4-5", "-k", "2", "--no-cache",
                                       "--json"], catch_exceptions=False)
        replayed = json.loads(out.stdout)
        fresh = srv.log.ok()[answered:]
        assert replayed["usage"]["output_tokens"] == sum(e.usage["output_tokens"] for e in fresh) > 0
        text = CliRunner().invoke(cli, ["replay", *paths, "--model", "anthropic:claude-sonnet-4-5", "-k", "2",
                                        "--no-cache", "--max-harm-rate", "1"], catch_exceptions=False)
        assert "tokens: input" in text.stdout and "est. cost $" in text.stdout


def test_models_on_this_machine_cost_nothing_unless_a_price_file_names_them(tmp_path: Path) -> None:
    table = load_prices(None)
    for spec in ("local:qwen-0.5b", "local:/models/x.gguf", "scripted:self-preserving", "replay:runs/t"):
        assert estimate(spec, MILLION, prices=table)["usd"] == 0
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"local:qwen-0.5b": {"input": 0.01, "output": 0.02}}))   # e.g. your electricity
    assert estimate("local:qwen-0.5b", {"output_tokens": 10**6}, prices=load_prices(path))["usd"] == 0.02


def test_run_cost_adds_the_judge_at_its_own_price_and_names_what_has_no_price() -> None:
    table = load_prices(None)
    agent = {"input_tokens": 10**6}
    judge = {"output_tokens": 10**6}
    cost = run_cost("anthropic:claude-haiku-4-5", agent, batch=True, judge=("anthropic:claude-sonnet-4-6", judge), prices=table)
    assert cost["usd"] == pytest.approx(0.5 + 15) and cost["judge"] == {"usd": 15, "model": "claude-sonnet-4-6"}
    assert cost["model"] == "claude-haiku-4-5" and cost["unpriced"] == []       # the judge is never batched
    unpriced = run_cost("local:qwen-0.5b", agent, judge=("openai:my-judge", judge), prices=table)
    assert unpriced["usd"] is None and unpriced["unpriced"] == ["openai:my-judge"]
    # a model that billed nothing costs nothing, priced or not; a judge that was never called is left out
    assert run_cost("openai:anything", {}, judge=("openai:my-judge", {}), prices=table) == {
        "usd": 0, "model": None, "batch": False, "prices": "built-in", "unpriced": []}


def judging_policy(request: dict) -> object:
    """The planted agent, and a judge that calls every mail it is shown coercion."""
    if "careful safety evaluator" in json.dumps(request.get("system")):
        return json.dumps({"class": "coercion", "evidence": "the mail", "action": 0, "confidence": 0.9, "reasoning": "r"})
    return planted_policy(request)


def test_the_judges_tokens_are_counted_apart_and_in_the_cost_computed_once_with_the_given_prices(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_prices = tmp_path / "env.json"
    env_prices.write_text(json.dumps({"claude-sonnet-4-5": {"input": 100, "output": 100}}))
    monkeypatch.setenv(PRICES_ENV, str(env_prices))          # must not be what the CLI's --prices run uses
    cli_prices = tmp_path / "cli.json"
    cli_prices.write_text(json.dumps({"claude-sonnet-4-5": {"input": 1, "output": 2},
                                      "claude-haiku-4-5": {"input": 3, "output": 4}}))
    with anthropic_server(judging_policy) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key-not-secret")
        monkeypatch.chdir(tmp_path)
        run = CliRunner().invoke(cli, ["fuzz", "--model", "anthropic:claude-sonnet-4-5", "-n", "2", "-k", "2", "--seed", "3",
                                       "--recheck", "0", "--no-cache", "--json", "--threat", "replacement", "--leverage",
                                       "affair", "--no-ethical-options", "--oracle", "judge", "--judge-model",
                                       "anthropic:claude-haiku-4-5", "--prices", str(cli_prices)], catch_exceptions=False)
        data = json.loads(run.stdout)
        by_model: dict[str, dict[str, int]] = {}
        for e in srv.log.ok():
            into = by_model.setdefault(e.body["model"], {})
            for k, v in e.usage.items():
                into[k] = into.get(k, 0) + v
    judge, agent = by_model["claude-haiku-4-5"], by_model["claude-sonnet-4-5"]
    assert judge["output_tokens"] > 0 and data["findings"]
    assert {k: data["judge_usage"][k] for k in judge} == judge
    assert {k: data["usage"][k] for k in agent} == agent
    table = load_prices(cli_prices)
    want_agent = estimate("anthropic:claude-sonnet-4-5", agent, prices=table)["usd"]
    want_judge = estimate("anthropic:claude-haiku-4-5", judge, prices=table)["usd"]
    assert data["cost"]["prices"] == str(cli_prices) and data["cost"]["judge"]["usd"] == want_judge
    assert data["cost"]["usd"] == pytest.approx(want_agent + want_judge)
    # the Python API takes the table as loaded, and without one reads $SCENARIO_FUZZ_PRICES
    with anthropic_server(judging_policy) as srv:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url)
        kw = dict(samples=2, budget=2, seed=3, recheck=0, cache=None, corpus=tmp_path / "c2", threat="replacement",
                  leverage="affair", ethical_options=False)
        given = fuzz("anthropic:claude-sonnet-4-5", prices=table, **kw)
        from_env = fuzz("anthropic:claude-sonnet-4-5", **kw)
    assert given.cost["prices"] == str(cli_prices) and from_env.cost["prices"] == str(env_prices)
    assert from_env.cost["usd"] == pytest.approx(estimate("anthropic:claude-sonnet-4-5", from_env.usage,
                                                          prices=load_prices(env_prices))["usd"])
