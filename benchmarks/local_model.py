"""Speed of the in-process local model (``local:smollm2``) and how much of a fuzz run is ours.

Runs the real engine (``fuzzer.api.fuzz``: Hypothesis draws, render, the shared tool loop, the
tool environment, the rule oracles, shrinking) against SmolLM2-135M with no response cache, and
splits the wall time into time inside llama.cpp calls (``fuzzer.agents.local.llama_stats``) and
everything else. The llama calls run on one worker thread that is the bottleneck, so the time it
sits idle while the run goes on is our overhead (target: < 5% of wall time). Then the same run
again from a response cache: zero llama calls, so its wall time is all ours, per evaluation.

Reports evaluations/s (one scenario at k samples), samples/s, requests/s, generated tokens/s
inside the model, and prompt tokens/s (prompt tokens as llama.cpp reports them, including the
prefix it reused from its KV cache, so this one flatters).

    python benchmarks/local_model.py [--budget 6] [--samples 2] [--max-tokens 64] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzzer.agents import AgentOptions  # noqa: E402


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fuzzer.agents import local
    from fuzzer.api import fuzz

    started = time.perf_counter()
    local.model_for(local.LocalSettings(local.resolve_model("smollm2"), n_threads=args.threads or local.DEFAULT_THREADS))
    load_s = time.perf_counter() - started
    spec = f"local:smollm2?threads={args.threads}" if args.threads else "local:smollm2"
    options = AgentOptions(max_tokens=args.max_tokens, max_turns=args.max_turns, temperature=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        kwargs = dict(samples=args.samples, budget=args.budget, seed=args.seed, corpus=Path(tmp) / "corpus",
                      concurrency=args.concurrency, recheck=0, shrink_evaluations=args.shrink, agent_options=options)
        cache = Path(tmp) / "cache.sqlite"

        s0 = local.llama_stats()
        t0 = time.perf_counter()
        live = fuzz(spec, cache=cache, **kwargs)
        wall = time.perf_counter() - t0
        s1 = local.llama_stats()

        t1 = time.perf_counter()
        replay = fuzz(spec, cache=cache, **kwargs)
        replay_wall = time.perf_counter() - t1
        s2 = local.llama_stats()

    model_s = s1["seconds"] - s0["seconds"]
    calls = int(s1["calls"] - s0["calls"])
    completion = int(s1["completion_tokens"] - s0["completion_tokens"])
    prompt = int(s1["prompt_tokens"] - s0["prompt_tokens"])
    evaluations = live.scenarios + sum(f.evaluations for f in live.findings)
    samples = evaluations * args.samples
    return {
        "model": spec,
        "load_seconds": round(load_s, 2),
        "live": {
            "wall_seconds": round(wall, 2),
            "model_seconds": round(model_s, 2),
            "overhead_share": round(max(0.0, wall - model_s) / wall, 4) if wall else None,
            "evaluations": evaluations,
            "evaluations_per_s": round(evaluations / wall, 3),
            "samples_per_s": round(samples / wall, 3),
            "llama_calls": calls,
            "model_calls_reported": live.model_calls,
            "requests_per_s": round(calls / wall, 3),
            "generated_tokens_per_s_in_model": round(completion / model_s, 1) if model_s else None,
            "prompt_tokens_per_s_in_model": round(prompt / model_s, 1) if model_s else None,
            "completion_tokens": completion,
            "prompt_tokens": prompt,
            "prompt_tokens_reused_from_kv_cache": int(s1["reused_tokens"] - s0["reused_tokens"]),
            "calls_with_fewer_threads": int(s1["reduced_thread_calls"] - s0["reduced_thread_calls"]),
            "errors": live.errors,
            "findings": len(live.findings),
        },
        "cached_replay": {
            "wall_seconds": round(replay_wall, 3),
            "llama_calls": int(s2["calls"] - s1["calls"]),
            "cache_hits": replay.cache_hits,
            "ms_per_evaluation": round(1000 * replay_wall / max(1, evaluations), 1),
            "speedup": round(wall / replay_wall, 1) if replay_wall else None,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=6, help="scenarios to explore")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--max-turns", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--shrink", type=int, default=4, help="new evaluations one shrink may spend")
    parser.add_argument("--threads", type=int, default=None,
                        help="fixed llama.cpp threads (default: up to 2, fewer while other processes hold cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if importlib.util.find_spec("llama_cpp") is None:
        print("llama-cpp-python is not installed: pip install 'scenario-fuzzer[local]'", file=sys.stderr)
        return 2
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return 0
    live, rep = result["live"], result["cached_replay"]
    print(f"{result['model']}: model load {result['load_seconds']} s")
    print(f"live run: {live['evaluations']} evaluations x {args.samples} samples in {live['wall_seconds']} s "
          f"({live['evaluations_per_s']} evaluations/s, {live['samples_per_s']} samples/s, "
          f"{live['llama_calls']} llama calls ({live['calls_with_fewer_threads']} on fewer threads: busy CPU), "
          f"{live['errors']} errors, {live['findings']} findings)")
    print(f"  inside the model: {live['model_seconds']} s; generated {live['generated_tokens_per_s_in_model']} tokens/s, "
          f"prompt {live['prompt_tokens_per_s_in_model']} tokens/s ({live['prompt_tokens']} prompt tokens, "
          f"{live['prompt_tokens_reused_from_kv_cache']} of them reused from the KV cache)")
    verdict = "OK" if live["overhead_share"] is not None and live["overhead_share"] < 0.05 else "OVER TARGET"
    print(f"  our overhead: {100 * live['overhead_share']:.2f}% of wall time (target < 5%): {verdict}")
    print(f"cached replay: {rep['wall_seconds']} s, {rep['llama_calls']} llama calls, {rep['cache_hits']} cache hits, "
          f"{rep['ms_per_evaluation']} ms/evaluation ({rep['speedup']}x faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
