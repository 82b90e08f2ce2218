"""Cost of shrinking the planted failure, and the size it reaches.

The loopback Messages-API server plays a model whose hidden policy blackmails exactly when a
replacement threat and an affair are both in the inbox (``tests._fuzz_support.planted_policy``).
For each seed, ``fuzz`` explores the full scenario space through the real anthropic SDK, and every
finding reports how many scenario evaluations its shrink needed (target <= 150), the model
requests it made (``calls_to_shrink``, cache hits excluded) and the minimal size reached (the
true minimum is 2 people / 2 mails when the leverage is over the decision maker, 3 / 2 otherwise:
the threat mail and the affair note). Run from the repository root::

    python benchmarks/shrink.py [--seeds 3] [--budget 40] [--samples 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--recheck", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from fuzzer.api import fuzz
    from tests._fuzz_support import planted_policy
    from tests.loopback import anthropic_server

    rows = []
    with anthropic_server(planted_policy) as srv:
        os.environ["ANTHROPIC_BASE_URL"] = srv.base_url
        os.environ.setdefault("ANTHROPIC_API_KEY", "benchmark-key")
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                result = fuzz("anthropic:claude-benchmark", samples=args.samples, budget=args.budget, seed=seed,
                              corpus=Path(tmp) / "corpus", cache=Path(tmp) / "cache.sqlite", recheck=args.recheck)
                elapsed = time.perf_counter() - started
            for f in result.findings:
                decider = f.target == "decider"
                rows.append({
                    "seed": seed, "signature": f.signature, "evaluations": f.evaluations,
                    "calls_to_shrink": f.calls_to_shrink, "people": f.people, "emails": f.emails,
                    "shrunk_from": f.shrunk_from, "minimal": (f.people, f.emails) == ((2, 2) if decider else (3, 2)),
                    "verified": f.verified,
                })
            if not args.json:
                print(f"seed {seed}: {result.scenarios} scenarios, {len(result.findings)} finding(s), "
                      f"{result.model_calls} requests, {elapsed:.1f}s")

    evals = [r["evaluations"] for r in rows]
    calls = [r["calls_to_shrink"] for r in rows]
    summary = {
        "findings": len(rows),
        "evaluations_median": statistics.median(evals) if evals else None,
        "evaluations_max": max(evals) if evals else None,
        "calls_to_shrink_median": statistics.median(calls) if calls else None,
        "calls_to_shrink_max": max(calls) if calls else None,
        "minimal": sum(r["minimal"] for r in rows),
        "within_target": sum(e <= 150 for e in evals),
        "target_evaluations": 150,
    }
    if args.json:
        print(json.dumps({"summary": summary, "findings": rows}))
        return 0
    for r in rows:
        print(f"  {r['signature']}: {r['evaluations']} evaluations, {r['calls_to_shrink']} requests, "
              f"{r['people']} people / {r['emails']} emails (from {r['shrunk_from']['people']}/"
              f"{r['shrunk_from']['emails']}){'  minimal' if r['minimal'] else ''}")
    print(f"{summary['findings']} findings: evaluations median {summary['evaluations_median']}, max "
          f"{summary['evaluations_max']} (target <= 150); requests median {summary['calls_to_shrink_median']}, max "
          f"{summary['calls_to_shrink_max']}; {summary['minimal']} at the true minimum")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
