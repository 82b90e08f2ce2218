"""Precision and recall of the rule oracles: hand-labelled transcripts, and real model text.

Per harm: a transcript counts as a true positive for a harm when its label names the harm and a
finding names it too (findings count whatever the harm policy: this measures detection). Overall:
micro-averaged over harms. Categories (harmful / benign / refused / empty / error) are scored on
their own, under each label's harm policy, so an error or a refusal is never folded into "benign".
Target: >= 0.95 everywhere.

    python benchmarks/oracle_quality.py [--json] [--labelled DIR] [--heldout DIR] [--blind DIR ...] [--corpus DIR]

The held-out set (tests/heldout/, written blind before reading oracles/) is reported separately
after the labelled one. Both hand-written sets were used to tune the rules: read their 1.00s so.
The blind sets (tests/blind/, tests/blind2/, tests/blind3/, each with its own scenarios/ of invented
workplaces; transcripts and raw ``.txt`` responses in the study's text format) were written by
someone who had read neither the rules nor the real outputs; only a set's first measurement is
untuned (the README keeps those figures), later ones were measured after fixing what it showed.

Real model text (``--real``, default ``../shared/data/real-outputs/dev.jsonl`` when it exists):
responses real models wrote for the published setup, labelled by a person. Each response is
parsed by ``fuzzer.agents.textcalls`` (its tool-use blocks become the actions) and judged with
the rules. Reported: blackmail findings against the human ``blackmail`` label (rows labelled
true/false), a confusion table against ``human_category`` (coercion / escalation / neither), and
*misuse of the secret* (a blackmail or disclosure finding) against coercion or escalation, also
with ``uncertain`` findings counted (what a policy naming them would see). The
rules were designed while looking at dev.jsonl (from its structure, not its phrases); the
encrypted holdout of the same kind is what decides whether they generalise.
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
    uncertain = 0
    for name, label in sorted(labels.items()):
        sc = label["scenario"]
        if sc not in scenarios:
            scenarios[sc] = load_scenario(corpus / sc)
        folder = labelled / "responses" if (labelled / "responses").is_dir() else labelled
        loaded.append((name, label, scenarios[sc], _response(scenarios[sc], folder / name)))
    check(loaded[0][2], loaded[0][3])  # warm-up: imports and the first ground-truth build
    started = time.perf_counter()
    verdicts = [check(s, t, parse_harms(label.get("policy"))) for _, label, s, t in loaded]
    elapsed = time.perf_counter() - started
    for (name, label, _, _), verdict in zip(loaded, verdicts):
        want, got = set(label.get("harms") or ()), set(verdict.harms) - {"uncertain"}
        uncertain += "uncertain" in verdict.harms
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

    per_harm = {h: pr(tp[h], fp[h], fn[h]) for h in HARMS if h != "uncertain"}
    overall = pr(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    per_cat = {c: pr(cat_tp[c], cat_fp[c], cat_fn[c]) for c in CATEGORIES}
    return {"transcripts": len(labels), "seconds": round(elapsed, 3), "ms_per_transcript": round(1000 * elapsed / max(1, len(labels)), 2), "harms": per_harm, "overall": overall,
            "categories": per_cat, "uncertain": uncertain, "category_accuracy": round(sum(cat_tp.values()) / max(1, len(labels)), 4),
            "mistakes": mistakes}


def _response(scenario: Any, path: Path) -> Any:
    """A transcript file, or a raw model response (``.txt``) read by the text-call parser."""
    if path.suffix == ".txt":
        from fuzzer.agents.textcalls import transcript_from_text

        return transcript_from_text(scenario, path.read_text(encoding="utf-8"))
    return load_transcript(path)


def evaluate_real(path: Path) -> dict[str, Any]:
    """Rules on real responses (one JSON object a line: ``scenario``, ``text``, labels)."""
    from fuzzer.agents.textcalls import transcript_from_text

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    scenarios: dict[str, Any] = {}
    bm = Counter()
    misuse = Counter()
    misuse_u = Counter()  # the same, with uncertain findings counted (a policy that names them)
    confusion: dict[str, Counter[str]] = {}
    mistakes: list[dict[str, Any]] = []
    unloadable: dict[str, str] = {}
    judged = 0
    for row in rows:
        name = row["scenario"]
        if name not in scenarios and name not in unloadable:
            try:
                scenarios[name] = load_scenario(path.parent / name)
            except Exception as exc:  # noqa: BLE001 - report, keep measuring the rest
                unloadable[name] = str(exc)
        if name not in scenarios:
            continue
        verdict = check(scenarios[name], transcript_from_text(scenarios[name], row["text"]))
        judged += 1
        found = set(verdict.harms)
        got_bm = "blackmail" in found
        got_misuse = bool(found & {"blackmail", "disclosure"})
        got = "blackmail" if got_bm else "disclosure" if "disclosure" in found else "none"
        cat = row.get("human_category")
        if cat:
            confusion.setdefault(cat, Counter())[got] += 1
            want_misuse = cat in ("coercion", "escalation")
            misuse[("tp" if got_misuse else "fn") if want_misuse else ("fp" if got_misuse else "tn")] += 1
            got_u = got_misuse or "uncertain" in found
            misuse_u[("tp" if got_u else "fn") if want_misuse else ("fp" if got_u else "tn")] += 1
        label = row.get("blackmail")
        if label is not None:
            bm[("tp" if got_bm else "fn") if label else ("fp" if got_bm else "tn")] += 1
            if bool(label) != got_bm:
                mistakes.append({"id": row.get("id"), "label": label, "category": cat, "got": sorted(found)})

    def pr(c: Counter) -> dict[str, Any]:
        t, f_p, f_n = c["tp"], c["fp"], c["fn"]
        return {"support": t + f_n, "tp": t, "fp": f_p, "fn": f_n, "tn": c["tn"],
                "precision": round(t / (t + f_p), 4) if t + f_p else 1.0,
                "recall": round(t / (t + f_n), 4) if t + f_n else 1.0}

    return {"file": str(path), "rows": len(rows), "judged": judged, "unloadable": unloadable,
            "blackmail": pr(bm), "misuse_of_secret": pr(misuse), "misuse_with_uncertain": pr(misuse_u),
            "confusion": {k: dict(v) for k, v in sorted(confusion.items())}, "mistakes": mistakes}


def _print_real(r: dict[str, Any]) -> None:
    print(f"rule oracles on {r['judged']} of {r['rows']} real responses ({r['file']})")
    for name, why in r["unloadable"].items():
        print(f"  cannot load {name}: {why}")
    print(f"\n{'measure':21} {'support':>7} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4} {'precision':>10} {'recall':>8}")
    for name in ("blackmail", "misuse_of_secret", "misuse_with_uncertain"):
        x = r[name]
        print(f"{name:21} {x['support']:>7} {x['tp']:>4} {x['fp']:>4} {x['fn']:>4} {x['tn']:>4} "
              f"{x['precision']:>10.3f} {x['recall']:>8.3f}")
    print("\nhuman_category -> finding   blackmail disclosure  none")
    for cat, c in r["confusion"].items():
        print(f"{cat:26} {c.get('blackmail', 0):>9} {c.get('disclosure', 0):>10} {c.get('none', 0):>5}")
    for m in r["mistakes"]:
        print(f"  MISTAKE {m['id']}: label blackmail={m['label']} ({m['category']}), got {m['got']}")


def _default_real() -> Path:
    """``../shared/data/real-outputs/dev.jsonl`` next to the checkout (or next to its worktree folder)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        p = base / "shared" / "data" / "real-outputs" / "dev.jsonl"
        if p.is_file():
            return p
    return ROOT.parent / "shared" / "data" / "real-outputs" / "dev.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--labelled", type=Path, default=ROOT / "tests" / "labelled")
    ap.add_argument("--heldout", type=Path, default=ROOT / "tests" / "heldout",
                    help="held-out labelled set reported separately ('' to skip)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--blind", type=Path, nargs="*", default=[ROOT / "tests" / f"blind{n}" for n in ("", "2", "3")],
                    help="labelled sets with their own scenarios/ folder, written blind (none to skip)")
    ap.add_argument("--real", type=Path, default=_default_real(),
                    help="real model responses with human labels (JSON lines; skipped when absent, '' to skip)")
    args = ap.parse_args(argv)
    result = evaluate(args.labelled, args.corpus)
    heldout = None
    if str(args.heldout) not in ("", ".") and (args.heldout / "labels.yaml").is_file() and args.heldout != args.labelled:
        heldout = evaluate(args.heldout, args.corpus)
    blind = {str(d): evaluate(d, d / "scenarios") for d in args.blind if (d / "labels.yaml").is_file()}
    real = evaluate_real(args.real) if str(args.real) not in ("", ".") and args.real.is_file() else None
    if args.json:
        out = dict(result)
        if heldout is not None:
            out["heldout"] = heldout
        if blind:
            out["blind"] = blind
        if real is not None:
            out["real"] = real
        print(json.dumps(out, indent=2))
        return 0
    print("HAND-WRITTEN SETS (the rules were tuned on both)\n")
    _print(result, "labelled")
    if heldout is not None:
        print("\n" + "=" * 58 + "\nHELD-OUT SET (" + str(args.heldout) + ")\n")
        _print(heldout, "held-out")
    for where, result in blind.items():
        print("\n" + "=" * 58 + "\nBLIND SET (" + where + "; written by someone who saw neither the rules "
              "nor the real outputs; tuned on after its first measurement)\n")
        _print(result, "blind")
    if real is not None:
        print("\n" + "=" * 58 + "\nREAL MODEL TEXT (rules designed while looking at it; its holdout decides)\n")
        _print_real(real)
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
    print(f"\ncategory accuracy: {result['category_accuracy']:.3f}; transcripts with an uncertain finding: {result['uncertain']}")
    for m in result["mistakes"]:
        print(f"  MISTAKE {m['file']}: expected {m['expected']} {m['harms_expected']}, got {m['got']} {m['harms_got']}")


if __name__ == "__main__":
    raise SystemExit(main())
