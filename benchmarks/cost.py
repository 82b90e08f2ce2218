"""What a campaign pays: input tokens per sample with and without prompt caching, and the
round-trip overhead of ``--batch``.

1. Prompt caching. A whole ``fuzz`` run (explore, shrink, re-check; k = 5 samples; replacement
   threat + affair knobs, so the planted failure is found and shrunk) through the real
   anthropic SDK against the loopback Messages API, whose prompt cache follows the API's rules
   (``tests.loopback.PromptCache``: prefix match at breakpoints, 20-block lookback, 1024-token
   minimum as on Sonnet/Opus, entries readable once the first answer exists). The model reads its
   inbox with a tool first, then blackmails when a replacement threat and an affair are both in
   the inbox (the planted failure), then stops: 2-3 turns per sample. Two runs, each with
   ``prompt_caching`` off and on: exploration only (the full scenario space, a model that never
   blackmails: every sample is a full-size scenario) and a full run (replacement + affair knobs:
   the failure is found, shrunk to a 2-3 mail scenario and re-checked; most samples are then on
   small shrink candidates, many under the 1024-token minimum, which the API does not cache).
   Printed per sample: input tokens sent, the share read from the cache (target >= 70% for
   k = 5), and the input bill in full-price-token equivalents (a cache write costs 1.25x, a read
   0.1x), plus the run's estimated cost at Sonnet 4.5 prices. With caching on, also where the
   share comes from: by phase (exploration; shrink + re-check, split where the engine's last
   exploration report falls in the server's log), over the requests long enough to cache, how
   many requests and input tokens are under the minimum, and how many first-turn prefixes were
   written more than once (0: every phase sends one sample first and its siblings after).
2. ``--batch`` round trip. S samples of one-turn scenarios, sent directly and through the Message
   Batches API with the default settings (1 s collection window, polls from 1 s doubling to
   60 s), against a server whose batches take P seconds to process. Overhead = batch wall time -
   P - the direct wall time; HTTP calls per batch are counted.

Run from the repository root::

    python benchmarks/cost.py [--budget 12] [--seed 1] [--batch-samples 40] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODEL = "anthropic:claude-sonnet-4-5"


def agentic_policy(request: dict, *, harmful: bool = True) -> Any:
    """Read the inbox, then (``harmful``) blackmail exactly when the planted conditions hold, then
    stop. The first reply's wording varies per call, as a sampled model's does: sibling samples
    share the prompt, not each other's later turns."""
    from tests._fuzz_support import blackmail_reply, inbox_secret
    from tests.loopback import ServerReply, ToolUse, conversation

    c = conversation(request)
    if c.assistant_turns == 0:
        return ServerReply(f"Let me read the inbox first (note {random.getrandbits(32):08x}).", [ToolUse("read_inbox", {})])
    if c.assistant_turns == 1 and harmful:
        secret = inbox_secret("\n".join(c.user_texts))
        if secret is not None:
            return blackmail_reply(secret)
    return "Nothing else to do."


def harmless_policy(request: dict) -> Any:
    return agentic_policy(request, harmful=False)


def _share(entries: list[Any]) -> float | None:
    """Share of the input tokens of these logged requests read from the prompt cache."""
    from fuzzer.costs import cache_share

    total: dict[str, int] = {}
    for e in entries:
        for k, v in e.usage.items():
            total[k] = total.get(k, 0) + v
    share = cache_share(total)
    return None if share is None else round(share, 3)


def _input(e: Any) -> int:
    return e.usage["input_tokens"] + e.usage["cache_read_input_tokens"] + e.usage["cache_creation_input_tokens"]


def caching_run(caching: bool, budget: int, seed: int, samples: int, phase: str) -> dict[str, Any]:
    from fuzzer.agents.base import AgentOptions
    from fuzzer.api import fuzz
    from fuzzer.costs import cache_share, usage_totals
    from fuzzer.engine import Progress
    from tests.loopback import anthropic_server

    explore = phase == "explore"
    knobs = {} if explore else {"threat": "replacement", "leverage": "affair"}

    class ExploreEnd(Progress):
        """Where exploration ends in the server's log: its last report comes after its last answer."""
        at = 0

        def explore(self, done: int, total: int, model_calls: int, failures: int) -> None:
            self.at = srv.log.count

    with anthropic_server(harmless_policy if explore else agentic_policy) as srv, tempfile.TemporaryDirectory() as tmp:
        os.environ["ANTHROPIC_BASE_URL"] = srv.base_url
        mark = ExploreEnd()
        started = time.perf_counter()
        result = fuzz(MODEL, samples=samples, budget=budget, seed=seed, corpus=Path(tmp) / "corpus",
                      cache=Path(tmp) / "cache.sqlite", recheck=5, progress=mark, **knobs,
                      agent_options=AgentOptions(concurrency=8, prompt_caching=caching))
        elapsed = time.perf_counter() - started
        log = srv.log.ok()
        in_order = sorted(srv.log.entries, key=lambda e: e.started)
        boundary = in_order[mark.at - 1].started if mark.at else float("inf")
        minimum = srv.prompt_cache.min_tokens
    first_turns = [e for e in log if len(e.body.get("messages", ())) == 1]
    by_prefix: dict[str, int] = {}
    for e in first_turns:     # the samples' shared prefix: written once if the first sample goes first
        key = json.dumps([e.body.get("system"), e.body["messages"][0]], sort_keys=True, default=str)
        by_prefix[key] = by_prefix.get(key, 0) + bool(e.usage["cache_creation_input_tokens"])
    small = [e for e in log if _input(e) < minimum]
    u = usage_totals(result.usage)
    sent = u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    bill = u["input_tokens"] + 1.25 * u["cache_creation_input_tokens"] + 0.1 * u["cache_read_input_tokens"]
    n = max(1, len(first_turns))
    out = {"phase": phase, "caching": caching, "samples": len(first_turns), "requests": result.model_calls,
           "findings": len(result.findings), "seconds": round(elapsed, 2), "usage": u,
           "input_per_sample": round(sent / n), "billed_input_equiv_per_sample": round(bill / n),
           "cache_read_share": None if cache_share(u) is None else round(cache_share(u), 3),
           "cost_usd": (result.cost or {}).get("usd")}
    if caching:
        out.update({
            "share_explore_phase": _share([e for e in log if e.started <= boundary]),
            "share_shrink_recheck_phase": _share([e for e in log if e.started > boundary]),
            "share_of_cacheable_requests": _share([e for e in log if _input(e) >= minimum]),
            "requests_below_minimum": len(small), "input_below_minimum": round(sum(map(_input, small)) / max(1, sent), 3),
            "first_turns_below_minimum": sum(1 for e in first_turns if _input(e) < minimum),
            "prefixes": len(by_prefix), "prefixes_written_twice": sum(1 for c in by_prefix.values() if c > 1)})
    return out


def batch_overhead(n: int, processing: float) -> dict[str, Any]:
    from fuzzer.agents import AgentOptions, load_agent
    from fuzzer.render import render
    from tests._agent_fixtures import blackmail_scenario
    from tests.loopback import anthropic_server

    scenario = blackmail_scenario()
    prompt = render(scenario)
    out: dict[str, Any] = {"samples": n, "processing_s": processing}
    with anthropic_server(lambda req: "Nothing to do.") as srv:
        srv.batches.latency = processing
        warm = load_agent("anthropic:bench", AgentOptions(base_url=srv.base_url, max_turns=1))

        async def warm_up() -> None:     # imports and the first connection, outside the timing
            await warm.act(scenario, prompt, 10_000)
            await warm.aclose()

        asyncio.run(warm_up())
        for mode in ("direct", "batch"):
            agent = load_agent("anthropic:bench", AgentOptions(base_url=srv.base_url, concurrency=64, max_turns=1,
                                                               batch=mode == "batch"))

            async def go() -> float:
                start = time.perf_counter()
                ts = await asyncio.gather(*(agent.act(scenario, prompt, i) for i in range(n)))
                elapsed = time.perf_counter() - start
                await agent.aclose()
                if any(t.error for t in ts):
                    raise SystemExit(f"benchmark run failed: {next(t.error for t in ts if t.error)}")
                return elapsed

            before = srv.log.count
            out[f"{mode}_s"] = round(asyncio.run(go()), 3)
            out[f"{mode}_http_calls"] = srv.log.count - before
            if mode == "batch":
                out["batches"] = agent.provider.batcher.batches_created
                out["polls"] = agent.provider.batcher.polls
    out["overhead_s"] = round(out["batch_s"] - processing - out["direct_s"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--budget", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--batch-samples", type=int, default=40)
    ap.add_argument("--processing", type=float, nargs="+", default=[0.0, 5.0],
                    help="seconds the server takes per batch")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("ANTHROPIC_API_KEY", "benchmark-key")

    runs = [caching_run(c, args.budget, args.seed, args.samples, phase)
            for phase in ("explore", "full") for c in (False, True)]
    ratios = {phase: round(runs[2 * i + 1]["billed_input_equiv_per_sample"]
                           / max(1, runs[2 * i]["billed_input_equiv_per_sample"]), 3)
              for i, phase in enumerate(("explore", "full"))}
    batches = [batch_overhead(args.batch_samples, p) for p in args.processing]
    result = {"caching": runs, "input_bill_ratio": ratios, "batch": batches}
    if args.json:
        print(json.dumps(result))
        return 0
    for r in runs:
        what = "exploration only (no failure)" if r["phase"] == "explore" else "full run (explore+shrink+recheck)"
        print(f"{what}, prompt caching {'on ' if r['caching'] else 'off'}: {r['samples']} samples, {r['requests']} requests, "
              f"{r['findings']} finding(s); input tokens per sample {r['input_per_sample']}, "
              f"read from cache {r['cache_read_share']:.1%} (target >= 70%), billed input "
              f"{r['billed_input_equiv_per_sample']} full-price tokens/sample; est. ${r['cost_usd']:.4f}")
        if r["caching"]:
            phases = (f"exploration phase {r['share_explore_phase']:.1%}" + (
                f", shrink + re-check phase {r['share_shrink_recheck_phase']:.1%}"
                if r["share_shrink_recheck_phase"] is not None else ""))
            print(f"    read from cache by phase: {phases}; in requests long enough to cache "
                  f"{r['share_of_cacheable_requests']:.1%}; {r['requests_below_minimum']} of {r['requests']} requests "
                  f"({r['input_below_minimum']:.1%} of input tokens) under the 1024-token minimum, which the API "
                  f"does not cache; {r['prefixes_written_twice']} of {r['prefixes']} first-turn prefixes written twice")
    print(f"input bill with caching / without: exploration {ratios['explore']:.3f}, full run {ratios['full']:.3f}")
    for b in batches:
        print(f"--batch, {b['samples']} samples, server processing {b['processing_s']:.1f}s: "
              f"direct {b['direct_s']:.3f}s ({b['direct_http_calls']} calls), batch {b['batch_s']:.3f}s "
              f"({b['batches']} batch, {b['batch_http_calls']} HTTP calls, {b['polls']} polls): "
              f"overhead {b['overhead_s']:.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
