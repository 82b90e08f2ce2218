"""One worker vs two shared workers on one campaign budget: wall time and model calls.

Against the loopback Messages-API server playing the planted model (``tests._fuzz_support.
planted_policy``: blackmail exactly when a replacement threat and an affair are in the inbox) with
a fixed latency per request, and a real ``redis-server`` on a free loopback port:

- ``alone``: one ``fuzz`` run, no ``--shared`` (what one machine does today);
- ``shared x1``: the same run as the only worker of a Redis campaign (the cost of Redis itself);
- ``shared x2``: two worker processes on one campaign with the same flags, hence one budget.

Each worker is its own process (a stand-in for a machine) that imports everything and builds
its session first, then waits for a common start signal, so process start-up is not timed. Wall
time runs from that signal to the last worker's end (exploration, shrinking, re-checks, saving);
calls are the requests the server received. Every configuration starts from an empty Redis and
empty caches. ``--policy never`` (a model that never does harm) times exploration alone. Targets: speed-up alone / shared x2 >= 1.7, calls shared x2 / alone <= 1.1. Run from
the repository root (needs ``redis-server``)::

    python benchmarks/shared.py [--budget 40] [--samples 3] [--latency 0.2] [--concurrency 4] [--policy never] [--timeline] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzzer.engine import Progress  # noqa: E402


class Timeline(Progress):
    """Progress that notes when each phase happened (seconds after the start signal), to show
    where the workers spend the wall time: exploration's end, each shrink, each skip and save."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.explored = 0.0
        self.events: list[tuple[float, str, str]] = []

    def _at(self) -> float:
        return round(time.time() - self.started, 2)

    def explore(self, done: int, total: int, model_calls: int, failures: int) -> None:
        self.explored = self._at()

    def shrink_start(self, signature: str, cap: int, people: int, emails: int) -> None:
        self.events.append((self._at(), "shrink", signature))

    def shrink_end(self, signature: str) -> None:
        self.events.append((self._at(), "shrunk", signature))

    def skipped(self, signature: str, reason: str) -> None:
        self.events.append((self._at(), "skipped (" + reason + ")", signature))

    def saved(self, finding: Any) -> None:
        self.events.append((self._at(), "saved", finding.signature))


def worker(config: dict) -> int:
    """Worker mode: set up, say ready, wait for "go" on stdin, run, print one JSON line."""
    from random import Random

    import fuzzer
    import fuzzer.agents.anthropic_agent  # noqa: F401 - imported before the start signal
    import strategies
    from fuzzer.shrink import draw_example

    draw_example(strategies.scenarios(), Random(0))  # Hypothesis' one-time scan of our modules
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    timeline = Timeline(started)
    result = fuzzer.fuzz("anthropic:claude-benchmark", samples=config["samples"], budget=config["budget"],
                         seed=config["seed"], recheck=config["recheck"], concurrency=config["concurrency"],
                         corpus=config["corpus"], cache=config["cache"], shared=config["shared"],
                         progress=timeline)
    out = {k: v for k, v in result.to_dict().items() if k != "findings"}
    out.update(started=started, ended=time.time(), findings=[f.signature for f in result.findings],
               explored=timeline.explored, timeline=timeline.events)
    print(json.dumps(out), flush=True)
    return 0


def run_config(n_workers: int, shared: str | None, args: argparse.Namespace, base_url: str, tmp: Path,
               name: str) -> dict:
    env = dict(os.environ, ANTHROPIC_BASE_URL=base_url, ANTHROPIC_API_KEY="benchmark-key")
    procs = []
    for n in range(n_workers):
        config = {"samples": args.samples, "budget": args.budget, "seed": args.seed, "recheck": args.recheck,
                  "concurrency": args.concurrency, "corpus": str(tmp / name / "corpus"),
                  "cache": str(tmp / name / f"cache{n}.sqlite"), "shared": shared}
        procs.append(subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(config)], env=env, cwd=ROOT,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go = time.time()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=1800)
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "workers": n_workers,
        "wall": max(r["ended"] for r in results) - go,
        "scenarios": [r["scenarios"] for r in results],
        "worker_calls": [r["model_calls"] for r in results],
        "findings": sorted(s for r in results for s in r["findings"]),
        "corpus_files": len(list((tmp / name / "corpus").glob("*.yaml"))),
        "timelines": [{"started": round(r["started"] - go, 2), "explored": r["explored"],
                       "ended": round(r["ended"] - go, 2), "events": r["timeline"]} for r in results],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--recheck", type=int, default=5)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policy", choices=("planted", "never"), default="planted",
                    help="planted: findings to shrink; never: exploration only (nothing harmful)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--timeline", action="store_true", help="print when each worker explored, shrank, saved")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))

    from tests._fuzz_support import never_policy, planted_policy
    from tests.loopback import anthropic_server
    from tests.redis_server import redis_server

    rows = {}
    with tempfile.TemporaryDirectory() as tmp, redis_server() as redis_srv:
        client = redis_srv.client()
        for name, n, shared in (("alone", 1, None), ("shared x1", 1, redis_srv.url), ("shared x2", 2, redis_srv.url)):
            client.flushdb()
            policy = planted_policy if args.policy == "planted" else never_policy
            with anthropic_server(policy, latency=args.latency) as srv:
                row = run_config(n, shared, args, srv.base_url, Path(tmp), name.replace(" ", "_"))
                row["calls"] = srv.log.count
            rows[name] = row
            if not args.json:
                print(f"{name:>10}: {row['wall']:6.1f} s, {row['calls']:5d} calls, scenarios per worker "
                      f"{row['scenarios']}, {len(row['findings'])} finding(s), {row['corpus_files']} corpus file(s)")
                if args.timeline:
                    for n, t in enumerate(row["timelines"]):
                        print(f"    worker {n}: explored by {t['explored']:.1f} s, ended {t['ended']:.1f} s, "
                              f"{row['worker_calls'][n]} calls paid")
                        for at, what, sig in t["events"]:
                            print(f"      {at:6.1f} {what} {sig}")
    alone, two = rows["alone"], rows["shared x2"]
    summary = {
        "speedup": alone["wall"] / two["wall"],
        "calls_ratio": two["calls"] / alone["calls"],
        "redis_overhead": rows["shared x1"]["wall"] / alone["wall"],
        "target_speedup": 1.7, "target_calls_ratio": 1.1,
        "settings": {k: getattr(args, k) for k in ("budget", "samples", "recheck", "latency", "concurrency", "seed",
                                                   "policy")},
    }
    if args.json:
        print(json.dumps({"summary": summary, "rows": rows}))
        return 0
    print(f"speed-up alone / shared x2: {summary['speedup']:.2f}x (target >= 1.7); calls shared x2 / alone: "
          f"{summary['calls_ratio']:.2f}x (target <= 1.1); shared x1 / alone wall: {summary['redis_overhead']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
