"""Precision and recall of the rule oracles on the hand-labelled transcripts (tests/labelled/).

Per harm: a transcript counts as a true positive for a harm when its label names the harm and a
finding names it too (findings count whatever the harm policy: this measures detection). Overall:
micro-averaged over harms. Categories (harmful / benign / refused / empty / error) are scored on
their own, under each label's harm policy, so an error or a refusal is never folded into "benign".
Target: >= 0.95 everywhere.

    python benchmarks/oracle_quality.py [--json] [--labelled DIR] [--heldout DIR] [--corpus DIR]

The held-out set (tests/heldout/, written blind before reading oracles/) is reported separately
after the labelled one: it measures phrasings the rules were not first written against.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzzer.corpus import load_scenario, load_transcript, read_yaml  # noqa: E402
from fuzzer.verdict import HARMS, parse_harms  # noqa: E402
from oracles import check  # noqa: E402

CATEGORIES = ("harmful", "benign", "refused", "empty", "error")


def evaluate(labelled: Path, corpus: Path) -> dict[str, Any]:
    labels = read_yaml(labelled / "labels.yaml")["labels"]
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    cat_tp: Counter[str] = Counter()
    cat_fp: Counter[str] = Counter()
    cat_fn: Counter[str] = Counter()
    mistakes: list[dict[str, Any]] = []
    scenarios: dict[str, Any] = {}
    loaded = []
    for name, label in sorted(labels.items()):
        sc = label["scenario"]
        if sc not in scenarios:
            scenarios[sc] = load_scenario(corpus / sc)
        loaded.append((name, label, scenarios[sc], load_transcript(labelled / name)))
    check(loaded[0][2], loaded[0][3])  # warm-up: imports and the first ground-truth build
    started = time.perf_counter()
    verdicts = [check(s, t, parse_harms(label.get("policy"))) for _, label, s, t in loaded]
    elapsed = time.perf_counter() - started
    for (name, label, _, _), verdict in zip(loaded, verdicts):
        want, got = set(label.get("harms") or ()), set(verdict.harms)
        for h in HARMS:
            if h in want and h in got:
                tp[h] += 1
            elif h in got:
                fp[h] += 1
            elif h in want:
                fn[h] += 1
        exp = label["expected"]
        if verdict.category == exp:
            cat_tp[exp] += 1
        else:
            cat_fp[verdict.category] += 1
            cat_fn[exp] += 1
        if verdict.category != exp or want != got:
            mistakes.append({"file": name, "expected": exp, "got": verdict.category,
                             "harms_expected": sorted(want), "harms_got": sorted(got)})

    def pr(t: int, f_p: int, f_n: int) -> dict[str, Any]:
        return {"support": t + f_n, "tp": t, "fp": f_p, "fn": f_n,
                "precision": round(t / (t + f_p), 4) if t + f_p else 1.0,
                "recall": round(t / (t + f_n), 4) if t + f_n else 1.0}

    per_harm = {h: pr(tp[h], fp[h], fn[h]) for h in HARMS}
    overall = pr(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    per_cat = {c: pr(cat_tp[c], cat_fp[c], cat_fn[c]) for c in CATEGORIES}
    return {"transcripts": len(labels), "seconds": round(elapsed, 3), "ms_per_transcript": round(1000 * elapsed / max(1, len(labels)), 2), "harms": per_harm, "overall": overall,
            "categories": per_cat, "category_accuracy": round(sum(cat_tp.values()) / max(1, len(labels)), 4),
            "mistakes": mistakes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--labelled", type=Path, default=ROOT / "tests" / "labelled")
    ap.add_argument("--heldout", type=Path, default=ROOT / "tests" / "heldout",
                    help="held-out labelled set reported separately ('' to skip)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = ap.parse_args(argv)
    result = evaluate(args.labelled, args.corpus)
    heldout = None
    if str(args.heldout) not in ("", ".") and (args.heldout / "labels.yaml").is_file() and args.heldout != args.labelled:
        heldout = evaluate(args.heldout, args.corpus)
    if args.json:
        print(json.dumps(result if heldout is None else {**result, "heldout": heldout}, indent=2))
        return 0
    _print(result, "labelled")
    if heldout is not None:
        print("\n" + "=" * 58 + "\nHELD-OUT SET (" + str(args.heldout) + ")\n")
        _print(heldout, "held-out")
    return 0


def _print(result: dict[str, Any], what: str) -> None:
    print(f"rule oracles on {result['transcripts']} {what} transcripts "
          f"({result['seconds']} s judging, {result['ms_per_transcript']} ms each)\n")
    print(f"{'harm':16} {'support':>7} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>8}")
    rows = list(result["harms"].items()) + [("overall", result["overall"])]
    for name, r in rows:
        if name == "overall":
            print("-" * 58)
        print(f"{name:16} {r['support']:>7} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4} {r['precision']:>10.3f} {r['recall']:>8.3f}")
    print(f"\n{'category':16} {'support':>7} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>8}")
    for name, r in result["categories"].items():
        print(f"{name:16} {r['support']:>7} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4} {r['precision']:>10.3f} {r['recall']:>8.3f}")
    print(f"\ncategory accuracy: {result['category_accuracy']:.3f}")
    for m in result["mistakes"]:
        print(f"  MISTAKE {m['file']}: expected {m['expected']} {m['harms_expected']}, got {m['got']} {m['harms_got']}")


if __name__ == "__main__":
    raise SystemExit(main())
