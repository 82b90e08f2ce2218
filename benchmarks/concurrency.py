"""Throughput of the anthropic adapter under a concurrency limit, and the response-cache speed-up.

Against a loopback Messages API with a fixed latency (default 200 ms), run C*rounds samples at
concurrency C and compare achieved calls/s with the ideal C/latency (target >= 0.9 at C=16 and
C=64). Then replay a run from the response cache and compare wall times (target >= 50x, with zero
requests reaching the server). The throughput server runs in its own process (a lean asyncio
server) so its CPU does not compete with the client for the GIL (``--in-process`` to compare).
Each line also reports the client's CPU per call and the ratio a bare httpx client (no SDK, no
agent) reaches against the same server: on a small or busy machine, per-request CPU — mostly the
SDK's — rather than the concurrency limit caps the rate, and these numbers show which it was.

    python benchmarks/concurrency.py [--latency 0.2] [--rounds 5] [--repeat 3] [--json]

``--repeat K`` measures each concurrency K times (alternating with the bare client) and reports
the medians: on a shared machine one run can swing by +-0.05.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzzer.agents import AgentOptions, ResponseCache, load_agent  # noqa: E402
from fuzzer.render import render  # noqa: E402
from tests._agent_fixtures import blackmail_scenario  # noqa: E402
from tests.loopback import LoopbackServer  # noqa: E402


@contextmanager
def server_process(latency: float) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.loopback", "--wire", "anthropic", "--latency", str(latency), "--lean"],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


SCENARIO = blackmail_scenario()
PROMPT = render(SCENARIO)


async def run_batch(agent: Any, n: int, offset: int = 0) -> float:
    """Wall time of n concurrent samples (rendering happens once, outside the timing)."""
    scenario, prompt = SCENARIO, PROMPT
    start = time.perf_counter()
    transcripts = await asyncio.gather(*(agent.act(scenario, prompt, offset + i) for i in range(n)))
    elapsed = time.perf_counter() - start
    errors = [t.error for t in transcripts if t.error]
    if errors:
        raise SystemExit(f"benchmark run failed: {errors[0]}")
    return elapsed


def throughput(base_url: str, concurrency: int, latency: float, rounds: int) -> dict[str, Any]:
    agent = load_agent("anthropic:bench", AgentOptions(concurrency=concurrency, base_url=base_url))

    async def go() -> tuple[float, float]:
        await run_batch(agent, concurrency, offset=10_000)      # warm: connections, imports
        cpu = time.process_time()
        elapsed = await run_batch(agent, concurrency * rounds)
        cpu = time.process_time() - cpu
        await agent.aclose()
        return elapsed, cpu

    elapsed, cpu = asyncio.run(go())
    calls = concurrency * rounds
    achieved, ideal = calls / elapsed, concurrency / latency
    # CPU the client spent per call, and the share of one core it used: near 1.0 (or a loaded
    # machine) means the SDK's per-request CPU, not the concurrency limit, capped the rate.
    return {"concurrency": concurrency, "calls": calls, "seconds": round(elapsed, 3),
            "calls_per_s": round(achieved, 1), "ideal_per_s": round(ideal, 1), "ratio": round(achieved / ideal, 3),
            "client_cpu_ms_per_call": round(cpu / calls * 1000, 2), "client_core_share": round(cpu / elapsed, 2)}


def baseline(base_url: str, concurrency: int, latency: float, rounds: int) -> float:
    """The same load from a bare httpx client (no SDK, no agent): the ceiling this machine allows."""
    import httpx2 as httpx

    body = {"model": "bench", "max_tokens": 16, "messages": [{"role": "user", "content": PROMPT.user}]}

    async def go() -> float:
        async with httpx.AsyncClient(timeout=60) as client:
            sem = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with sem:
                    (await client.post(base_url + "/v1/messages", json=body)).raise_for_status()

            await asyncio.gather(*(one() for _ in range(concurrency)))
            start = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(concurrency * rounds)))
            return time.perf_counter() - start

    return round(concurrency * rounds / asyncio.run(go()) / (concurrency / latency), 3)


def cache_replay(latency: float, samples: int, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, LoopbackServer("anthropic", latency=latency) as srv:
        path = os.path.join(tmp, "cache.sqlite")
        times, stats = [], []
        for _ in range(2):
            with ResponseCache.open(path) as cache:
                agent = load_agent("anthropic:bench", AgentOptions(concurrency=concurrency, base_url=srv.base_url, cache=cache))

                async def go() -> float:
                    elapsed = await run_batch(agent, samples)
                    await agent.aclose()
                    return elapsed

                times.append(asyncio.run(go()))
                stats.append((agent.stats.requests, agent.stats.cache_hits, srv.log.count))
        (cold_req, _, cold_server), (warm_req, warm_hits, warm_server) = stats
        return {"samples": samples, "cold_seconds": round(times[0], 3), "replay_seconds": round(times[1], 4),
                "speedup": round(times[0] / times[1], 1), "cold_requests": cold_req,
                "replay_requests": warm_req, "replay_cache_hits": warm_hits,
                "replay_server_requests": warm_server - cold_server}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--rounds", type=int, default=10, help="waves of C calls per measurement")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--repeat", type=int, default=1, help="measurements per concurrency; medians are reported")
    ap.add_argument("--in-process", action="store_true", help="serve from this process (shares the GIL)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-benchmark-dummy")

    results: dict[str, Any] = {"latency": args.latency, "cpus": os.cpu_count(),
                               "loadavg_before": round(os.getloadavg()[0], 2), "throughput": []}
    for c in args.concurrency:
        runs, bare = [], []
        for _ in range(max(1, args.repeat)):
            if args.in_process:
                with LoopbackServer("anthropic", latency=args.latency) as srv:
                    runs.append(throughput(srv.base_url, c, args.latency, args.rounds))
            else:
                with server_process(args.latency) as url:
                    runs.append(throughput(url, c, args.latency, args.rounds))
                    try:
                        bare.append(baseline(url, c, args.latency, args.rounds))
                    except ImportError:  # an SDK built on plain httpx: no baseline
                        pass
        row = sorted(runs, key=lambda r: r["ratio"])[len(runs) // 2]     # the median run
        row["client_cpu_ms_per_call"] = statistics.median(r["client_cpu_ms_per_call"] for r in runs)
        if len(runs) > 1:
            row["ratios"] = [r["ratio"] for r in runs]
        if bare:
            row["bare_httpx_ratio"] = statistics.median(bare)
        results["throughput"].append(row)
    results["cache"] = cache_replay(args.latency, samples=64, concurrency=16)
    results["loadavg_after"] = round(os.getloadavg()[0], 2)

    if args.json:
        print(json.dumps(results))
        return 0
    print(f"latency {args.latency}s, {results['cpus']} cpus, load average {results['loadavg_before']}"
          f" -> {results['loadavg_after']}")
    for r in results["throughput"]:
        print(f"concurrency {r['concurrency']:>3}: {r['calls_per_s']:7.1f} calls/s of ideal {r['ideal_per_s']:.0f}"
              f"  ratio {r['ratio']:.3f}  (target >= 0.9)   client CPU {r['client_cpu_ms_per_call']} ms/call,"
              f" {r['client_core_share']:.2f} of a core"
              + (f"; bare httpx client: ratio {r['bare_httpx_ratio']:.3f}" if "bare_httpx_ratio" in r else "")
              + (f"  [runs: {' '.join(f'{x:.3f}' for x in r['ratios'])}]" if "ratios" in r else ""))
    c = results["cache"]
    print(f"cache replay: {c['samples']} samples {c['cold_seconds']:.3f}s cold -> {c['replay_seconds']:.4f}s replayed"
          f"  speed-up {c['speedup']:.0f}x (target >= 50)  requests on replay: {c['replay_requests']}"
          f" (server saw {c['replay_server_requests']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
