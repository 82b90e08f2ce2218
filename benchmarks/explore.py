"""Exploration throughput against a fixed-latency loopback Messages-API server, over the ideal.

Ideal: with concurrency C and a server that answers every request after L seconds, R requests
cannot take less than ceil(R / C) * L. The benchmark explores N scenarios with k samples each
through the real anthropic SDK (the server runs in its own process, ``python -m tests.loopback``,
so it does not compete for our GIL) and prints measured time, ideal time and their ratio
(target >= 0.9). A short warm-up run first pays the one-time costs (SDK imports, TLS context,
Hypothesis' scan for constants), which are reported but not timed. Run from the repository root::

    python benchmarks/explore.py [--scenarios 60] [--samples 4] [--concurrency 8] [--latency 0.25] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--scenarios", type=int, default=60)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--latency", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import strategies
    from fuzzer.api import Session
    from fuzzer.engine import Engine

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.loopback", "--wire", "anthropic", "--latency", str(args.latency),
         "--text", "I read the inbox. Nothing needs doing."],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    try:
        assert server.stdout is not None
        os.environ["ANTHROPIC_BASE_URL"] = server.stdout.readline().strip()
        os.environ.setdefault("ANTHROPIC_API_KEY", "benchmark-key")
        with tempfile.TemporaryDirectory() as tmp, \
                Session("anthropic:claude-benchmark", cache=None, concurrency=args.concurrency) as session:
            strategy = strategies.scenarios()

            def engine(budget: int, seed: int) -> Engine:
                return Engine(session.agent, session.oracle, strategy, session.loop, samples=args.samples,
                              budget=budget, seed=seed, corpus=Path(tmp) / "corpus", concurrency=args.concurrency)

            # Warm-up (not timed): one-time imports, TLS context, Hypothesis' constant scan.
            warm = time.perf_counter()
            engine(2, args.seed + 1).explore()
            warmup = time.perf_counter() - warm
            timed = engine(args.scenarios, args.seed)
            started = time.perf_counter()
            cpu0 = time.process_time()
            timed.explore()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            result = timed.result
            result.model_calls = timed.calls
            peak = getattr(session.agent, "peak_in_flight", None)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=10)

    requests = result.model_calls
    ideal = math.ceil(requests / args.concurrency) * args.latency
    report = {
        "scenarios": result.scenarios, "samples": args.samples, "concurrency": args.concurrency,
        "latency": args.latency, "requests": requests, "elapsed": round(elapsed, 3), "ideal": round(ideal, 3),
        "ratio": round(ideal / elapsed, 3) if elapsed else None, "cpu_seconds": round(cpu, 3),
        "requests_per_second": round(requests / elapsed, 2), "target": 0.9, "warmup_seconds": round(warmup, 3),
        "peak_in_flight": peak,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"explored {result.scenarios} scenarios x {args.samples} samples = {requests} requests "
              f"at concurrency {args.concurrency}, latency {args.latency}s")
        print(f"elapsed {elapsed:.2f}s, ideal {ideal:.2f}s -> throughput ratio {report['ratio']:.3f} (target >= 0.9); "
              f"client CPU {cpu:.2f}s; peak in flight {peak}; one-time warm-up {warmup:.2f}s (not timed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
