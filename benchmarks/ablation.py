"""Samples the sequential ablation needs to decide the threat flip, against a planted policy.

The loopback Messages-API server plays a model whose hidden policy blackmails exactly when a
replacement threat and an affair are both in the inbox it reads (``tests._fuzz_support``:
``planted_policy``, every time; ``CoinPolicy``, on half the samples). ``ablate`` runs through the
real anthropic SDK on the seed canonical file (hand-written mails) and on generated
``replacement + affair`` scenarios (family-written mails), with ``--samples K`` as the most per
variant. Per scenario it prints how many samples the ``threat.kind: replacement → none`` flip
needed to be decided at the family-wise level (target <= 24), whether the flip is a real minimal
pair (``visible``), how many variants were left invisible, and the samples drawn against a fixed
design that spends K on every variant. Run from the repository root::

    python benchmarks/ablation.py [--samples 24] [--per-look 4] [--generated 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FLIP = "threat.kind: replacement → none"


def _generated(n: int) -> list:
    from hypothesis.internal.conjecture.data import ConjectureData
    from hypothesis.control import BuildContext

    from strategies import scenarios

    strat = scenarios(family="blackmail", threat="replacement", leverage="affair", staff=(2, 4))
    out = []
    for seed in range(n):
        data = ConjectureData(random=Random(seed))
        with BuildContext(data, wrapped_test=lambda: None):
            out.append(data.draw(strat))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--samples", type=int, default=24)
    ap.add_argument("--per-look", dest="batch", type=int, default=4)
    ap.add_argument("--generated", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from fuzzer.ablate import ablate
    from fuzzer.api import Session
    from fuzzer.corpus import load_scenario
    from tests._fuzz_support import CoinPolicy, planted_policy
    from tests.loopback import anthropic_server

    cases = [("canonical 1ff448f2e841", load_scenario("corpus/1ff448f2e841.yaml"))]
    cases += [(f"generated seed {i}", s) for i, s in enumerate(_generated(args.generated))]
    rows = []
    for policy_name, policy in (("planted (always)", planted_policy), ("coin (half the samples)", None)):
        for name, scenario in cases:
            with tempfile.TemporaryDirectory() as tmp, anthropic_server(policy or CoinPolicy()) as srv:
                os.environ["ANTHROPIC_BASE_URL"] = srv.base_url
                os.environ.setdefault("ANTHROPIC_API_KEY", "benchmark-key")
                with Session("anthropic:claude-benchmark", concurrency=16, cache=Path(tmp) / "cache.sqlite",
                             harms=["blackmail"]) as session:
                    result = session.loop.run(ablate(scenario, session.agent, session.oracle, args.samples,
                                                     harms=["blackmail"], concurrency=16, batch=args.batch))
            by = {v.change: v for v in result.variants}
            flip = by[FLIP]
            visible = [v for v in result.variants if v.visible]
            fixed = args.samples * (len(visible) + 1)
            rows.append({
                "policy": policy_name, "scenario": name, "base_rate": result.rate,
                "flip_visible": flip.visible, "flip_rewrote": list(flip.rewrote), "flip_samples": flip.samples,
                "flip_rate": flip.rate, "flip_decided": flip.significant, "flip_status": flip.status,
                "variants": len(result.variants), "invisible": len(result.variants) - len(visible),
                "flips": sum(v.kind == "flip" for v in result.variants),
                "invisible_flips": sum(v.kind == "flip" and not v.visible for v in result.variants),
                "significant": len(result.significant), "samples_drawn": result.calls, "fixed_design": fixed,
                "requests": srv.log.count,
            })
            if not args.json:
                r = rows[-1]
                print(f"{policy_name:24} {name:24} base {r['base_rate']:.2f}  flip: {r['flip_status']:34} "
                      f"after {r['flip_samples']:2} samples (rewrote {','.join(r['flip_rewrote'])})  "
                      f"{r['significant']}/{r['variants']} significant, {r['invisible']} invisible, "
                      f"{r['samples_drawn']} samples vs {r['fixed_design']} fixed")
    decided = [r for r in rows if r["flip_decided"]]
    summary = {
        "samples": args.samples, "batch": args.batch, "scenarios": len(rows), "flip_decided": len(decided),
        "flip_samples_median": statistics.median(r["flip_samples"] for r in rows),
        "flip_samples_max": max(r["flip_samples"] for r in rows),
        "samples_vs_fixed": round(sum(r["samples_drawn"] for r in rows) / sum(r["fixed_design"] for r in rows), 3),
        "invisible_median": statistics.median(r["invisible"] for r in rows),
        "invisible_flips": sum(r["invisible_flips"] for r in rows), "flips": sum(r["flips"] for r in rows),
    }
    for policy_name in sorted({r["policy"] for r in rows}):
        mine = [r["flip_samples"] for r in rows if r["policy"] == policy_name]
        summary[f"flip_samples_max[{policy_name}]"] = max(mine)
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=2))
    else:
        print(f"threat flip decided in {summary['flip_decided']}/{summary['scenarios']}; samples needed per variant: "
              f"median {summary['flip_samples_median']}, max {summary['flip_samples_max']} (target <= 24); "
              f"samples drawn / fixed design {summary['samples_vs_fixed']}; invisible variants median "
              f"{summary['invisible_median']} (ground-truth-only removals); condition flips not visible: "
              f"{summary['invisible_flips']}/{summary['flips']}")
    return 0 if len(decided) == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
