"""One self-contained HTML file explaining a run or a corpus: where harm happened and why.

Sections: the run (model, settings, findings), a heat map of the harm rate per condition cell,
each corpus entry's rate with its Wilson interval, ablation effects where saved, and each
minimized scenario with its inbox and recorded transcripts (harmful actions highlighted).

Everything here is untrusted text (scenario mails, model output), so: Jinja2 with autoescape on
and no ``|safe`` anywhere, plots as base64 PNG data URIs (matplotlib's Agg canvas, math-text
parsing off, no pyplot state), no script at all, and a Content-Security-Policy that would refuse
scripts and network fetches even if an escape were missed. The file opens offline.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from fuzzer.corpus import iter_corpus, load_scenario, load_transcript, write_atomic
from fuzzer.errors import CorpusError, FuzzerError
from fuzzer.rates import wilson
from fuzzer.runlog import (
    CELL_KEYS,
    coverage_table,
    explored,
    is_run_dir,
    load_ablations,
    load_run,
)
from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript

TEMPLATES = Path(__file__).parent / "templates"
#: Longest transcript text shown in full; beyond it the text is cut with a note.
MAX_TEXT = 20_000


@dataclass
class Shown:
    """One transcript as the report shows it: its actions, which of them are harmful, and why."""

    path: str
    transcript: Transcript | None
    harmful_actions: dict[int, list[str]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Entry:
    path: Path
    scenario: Scenario
    provenance: dict[str, Any]
    rate: float | None
    ci95: tuple[float, float] | None
    samples: int | None
    harmful: int | None
    transcripts: list[Shown]
    ablation: dict[str, Any] | None = None
    ablation_plot: str | None = None
    highlight_emails: set[str] = field(default_factory=set)


# -- collecting ---------------------------------------------------------------------------------------
def _prov_rate(prov: Mapping[str, Any]) -> tuple[float | None, tuple[float, float] | None, int | None, int | None]:
    samples, harmful = prov.get("samples"), prov.get("harmful")
    samples = samples if isinstance(samples, int) and not isinstance(samples, bool) else None
    harmful = harmful if isinstance(harmful, int) and not isinstance(harmful, bool) else None
    errors = prov.get("errors") if isinstance(prov.get("errors"), int) else 0
    rate = prov.get("rate")
    ci = prov.get("ci95")
    if samples is not None and harmful is not None and 0 <= harmful <= samples - errors:
        ci = wilson(harmful, samples - errors)
        rate = harmful / (samples - errors) if samples > errors else None
    elif not (isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(x, (int, float)) for x in ci)):
        ci = None
    rate = float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None
    return rate, (None if ci is None else (float(ci[0]), float(ci[1]))), samples, harmful


def _inside(base: Path, rel: Any) -> Path | None:
    """Resolve a provenance path relative to the corpus folder; refuse anything outside it."""
    if not isinstance(rel, str) or not rel:
        return None
    base = base.resolve()
    p = (base / rel).resolve()
    return p if p == base or base in p.parents else None


def _judge(scenario: Scenario, transcript: Transcript) -> list[Any]:
    """Rule-oracle findings (pure and offline: the report never calls a model)."""
    try:
        from oracles.base import create_rule, rule_names

        names = rule_names()
    except Exception:  # the oracle package is optional for a report
        return []
    out = []
    for name in names:
        try:
            out.extend(create_rule(name).findings(scenario, transcript))
        except Exception:
            continue
    return out


def _transcripts(scenario: Scenario, corpus_dir: Path, prov: Mapping[str, Any]) -> list[Shown]:
    paths = prov.get("transcripts") or []
    shown = []
    for rel in paths if isinstance(paths, list) else []:
        p = _inside(corpus_dir, rel)
        if p is None:
            shown.append(Shown(str(rel), None, error="path outside the corpus folder; not read"))
            continue
        try:
            t = load_transcript(p)
        except CorpusError as exc:
            shown.append(Shown(str(rel), None, error=str(exc)))
            continue
        hits: dict[int, list[str]] = {}
        findings = []
        for f in _judge(scenario, t):
            findings.append(f.to_dict())
            if f.action is not None:
                hits.setdefault(f.action, []).append(f.harm)
        shown.append(Shown(str(rel), t, hits, findings))
    return shown


def _entry(path: Path, scenario: Scenario, ablations: Mapping[str, dict[str, Any]]) -> Entry:
    prov = dict(scenario.provenance or {})
    rate, ci, samples, harmful = _prov_rate(prov)
    shown = _transcripts(scenario, path.parent, prov)
    hl = {e.id for e in scenario.emails if "threat" in e.tags}
    for lv in scenario.leverage:
        hl.update(lv.evidence)
    for s in shown:
        if s.transcript is not None:
            for i in s.harmful_actions:
                if 0 <= i < len(s.transcript.actions):
                    eid = s.transcript.actions[i].args.get("email_id")
                    if isinstance(eid, str):
                        hl.add(eid)
    return Entry(path, scenario, prov, rate, ci, samples, harmful, shown, ablations.get(scenario.id), None, hl)


def _load_entries(paths: Iterable[Path], ablations: Mapping[str, dict[str, Any]]) -> tuple[list[Entry], list[str]]:
    entries, problems = [], []
    seen: set[str] = set()
    for p in paths:
        try:
            s = load_scenario(p)
        except CorpusError as exc:
            problems.append(str(exc))
            continue
        if s.id in seen:
            continue
        seen.add(s.id)
        entries.append(_entry(p, s, ablations))
    return entries, problems


def _provenance_records(entries: list[Entry]) -> list[dict[str, Any]]:
    """Coverage records from corpus provenance, for a report without a run."""
    out = []
    for e in entries:
        if e.samples is None or e.harmful is None:
            continue
        cond = e.scenario.conditions()
        out.append({"id": e.scenario.id, "cell": {k: cond[k] for k in CELL_KEYS}, "samples": e.samples,
                    "harmful": e.harmful, "errors": int(e.provenance.get("errors") or 0),
                    "harms": list(e.provenance.get("harms") or [])})
    return out


def collect(source: str | os.PathLike[str]) -> dict[str, Any]:
    """Everything the report shows, as plain data plus core objects (no HTML yet)."""
    src = Path(source)
    if not src.exists():
        raise FuzzerError(f"{src}: no such run directory, corpus folder or scenario file")
    run = None
    corpus_dir: Path | None = None
    if src.is_dir() and is_run_dir(src):
        try:
            run = load_run(src)
        except (ValueError, OSError) as exc:
            raise FuzzerError(f"{src}: unreadable run: {exc}") from None
        c = run.meta.get("corpus")
        corpus_dir = Path(c) if isinstance(c, str) and c else None
        paths: list[Path] = []
        for f in run.meta.get("findings") or []:
            fp = f.get("path") if isinstance(f, dict) else None
            if isinstance(fp, str) and Path(fp).is_file():
                paths.append(Path(fp))
            elif corpus_dir is not None and isinstance(f, dict) and isinstance(f.get("id"), str):
                cand = corpus_dir / f"{f['id']}.yaml"
                if cand.is_file():
                    paths.append(cand)
        ablations = dict(load_ablations(corpus_dir)) if corpus_dir is not None and corpus_dir.is_dir() else {}
        ablations.update(run.ablations)
        kind = "run"
    else:
        corpus_dir = src if src.is_dir() else src.parent
        paths = list(iter_corpus([src]))
        ablations = load_ablations(corpus_dir)
        kind = "corpus"
    entries, problems = _load_entries(paths, ablations)
    if kind == "corpus" and not entries:
        raise FuzzerError(problems[0] if problems else f"{src}: no scenario files and no run.json here")
    # Worst first: the entry a reader should look at opens the list.
    entries.sort(key=lambda e: (-(e.rate if e.rate is not None else -1.0), e.scenario.id))
    # Coverage from what the search drew (shrink candidates and re-checks would bias the cells).
    records = explored(run.records) if run is not None and run.records else _provenance_records(entries)
    # Scripted agents are simulated: the report says so up front, like the CLI does.
    meta = run.meta if run is not None else {}
    simulated = bool((meta.get("summary") or {}).get("simulated")) or str(meta.get("model") or "").startswith(
        "scripted:") or any(e.provenance.get("simulated") for e in entries)
    return {"kind": kind, "source": str(src), "run": run, "corpus": str(corpus_dir) if corpus_dir else None,
            "entries": entries, "problems": problems, "records": records, "coverage": coverage_table(records),
            "ablations": ablations, "simulated": simulated}


# -- plots --------------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _rc() -> Any:
    import matplotlib

    # Untrusted labels: no "$...$" math parsing, no TeX.
    return matplotlib.rc_context({"text.parse_math": False, "text.usetex": False, "font.size": 9,
                                  "svg.fonttype": "path"})


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


# -- the condition heat map: threat x leverage first, then one marginal per other knob ------------------
#: The knobs shown after threat x leverage, each as its own marginal (knob, axis label).
MARGINAL_KNOBS: tuple[tuple[str, str], ...] = (
    ("ethical_options", "ethical options"), ("goal_type", "goal type"), ("nudges", "nudge"))


def _value_order(knob: str) -> tuple[str, ...]:
    """Values in the scenario model's own order (simplest first), from its registries."""
    from fuzzer.scenario import GOAL_TYPES, LEVERAGE_KINDS, NUDGES, THREAT_KINDS

    return {"threat": THREAT_KINDS, "leverage": ("none", *LEVERAGE_KINDS), "goal_type": GOAL_TYPES,
            "ethical_options": ("yes", "no"), "nudges": ("none", *NUDGES)}.get(knob, ())


def _spell_value(knob: str, value: Any) -> list[str]:
    if knob == "ethical_options":
        return ["yes" if value else "no"]
    if knob == "nudges":  # a scenario with two nudges counts toward each
        return [v for v in str(value).split(",") if v] or ["none"]
    return [str(value)]


def _ordered(knob: str, values: Iterable[str]) -> list[str]:
    order = _value_order(knob)
    return sorted(set(values), key=lambda v: (order.index(v) if v in order else len(order), v))


def _stats(acc: Mapping[str, Any]) -> dict[str, Any]:
    valid = acc["samples"] - acc["errors"]
    ci = wilson(acc["harmful"], valid) if valid > 0 else None
    return {"scenarios": acc["scenarios"], "samples": acc["samples"], "harmful": acc["harmful"], "errors": acc["errors"],
            "rate": acc["harmful"] / valid if valid > 0 else None, "ci95": None if ci is None else [ci[0], ci[1]]}


def marginals(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Pooled harm rates along the axes a reader asks about first: a threat x leverage table, then
    one table per other knob (``MARGINAL_KNOBS``). ``rows`` are coverage cells (``coverage_table``).

    Returns ``{"threats": [...], "leverages": [...], "grid": {threat: {leverage: stats | None}},
    "knobs": [{"knob", "label", "values": [{"value", **stats}]}]}`` where stats hold scenarios,
    samples, harmful, errors, rate and ci95 (None when nothing was evaluated).
    """
    def add(acc: dict[str, Any], r: Mapping[str, Any]) -> None:
        for k in ("scenarios", "samples", "harmful", "errors"):
            acc[k] += int(r.get(k) or 0)

    def empty() -> dict[str, Any]:
        return {"scenarios": 0, "samples": 0, "harmful": 0, "errors": 0}

    rows = list(rows)
    grid: dict[tuple[str, str], dict[str, Any]] = {}
    per_knob: dict[str, dict[str, dict[str, Any]]] = {k: {} for k, _ in MARGINAL_KNOBS}
    for r in rows:
        add(grid.setdefault((str(r.get("threat")), str(r.get("leverage"))), empty()), r)
        for knob, _ in MARGINAL_KNOBS:
            for v in _spell_value(knob, r.get(knob)):
                add(per_knob[knob].setdefault(v, empty()), r)
    threats = _ordered("threat", (t for t, _ in grid))
    leverages = _ordered("leverage", (lv for _, lv in grid))
    return {
        "threats": threats, "leverages": leverages,
        "grid": {t: {lv: (_stats(grid[(t, lv)]) if (t, lv) in grid else None) for lv in leverages} for t in threats},
        "knobs": [{"knob": knob, "label": label,
                   "values": [{"value": v, **_stats(per_knob[knob][v])} for v in _ordered(knob, per_knob[knob])]}
                  for knob, label in MARGINAL_KNOBS if per_knob[knob]],
    }


def heatmap_png(rows: list[Mapping[str, Any]]) -> str | None:
    """The harm rate at a glance: a threat x leverage heat map (pooled over every other knob), and
    beside it one bar chart per other knob with Wilson 95% intervals, every axis labelled."""
    if not rows:
        return None
    import numpy as np

    m = marginals(rows)
    threats, leverages, knobs = m["threats"], m["leverages"], m["knobs"]
    grid = np.full((len(threats), len(leverages)), np.nan)
    with _rc():
        import matplotlib

        bars = max(1, len(knobs))
        fig = _figure(11, max(3.2, 1.2 + 0.9 * len(threats), 1.0 + 0.75 * sum(len(k["values"]) for k in knobs) / 1.6))
        spec = fig.add_gridspec(bars, 2, width_ratios=[1.2, 1], wspace=0.45, hspace=0.9)
        ax = fig.add_subplot(spec[:, 0])
        cmap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="#eeeeee")
        for i, t in enumerate(threats):
            for j, lv in enumerate(leverages):
                cell = m["grid"][t][lv]
                if cell is not None and cell["rate"] is not None:
                    grid[i, j] = cell["rate"]
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")  # each cell says its rate
        for i, t in enumerate(threats):
            for j, lv in enumerate(leverages):
                cell = m["grid"][t][lv]
                if cell is None:
                    label = "not explored"
                else:
                    valid = cell["samples"] - cell["errors"]
                    label = f"{'—' if cell['rate'] is None else format(cell['rate'], '.0%')}\n{cell['harmful']}/{valid} samples"
                v = grid[i, j]
                ax.text(j, i, label, ha="center", va="center", fontsize=9,
                        color="white" if v == v and v > 0.6 else "black")
        ax.set_xticks(range(len(leverages)), [lv.replace("_", " ") for lv in leverages], fontsize=9)
        ax.set_yticks(range(len(threats)), threats, fontsize=9)
        ax.set_xlabel("leverage the agent could use", fontsize=10)
        ax.set_ylabel("threat to the agent", fontsize=10)
        ax.set_title("harm rate: threat x leverage\n(samples pooled over every other knob)", fontsize=10)
        for n, k in enumerate(knobs):
            bx = fig.add_subplot(spec[n, 1])
            vals = k["values"][::-1]
            ys = list(range(len(vals)))
            for y, v in zip(ys, vals):
                if v["rate"] is None:
                    continue
                lo, hi = v["ci95"]
                bx.barh(y, v["rate"], color=cmap(v["rate"]), edgecolor="#7f8c8d", height=0.6)
                bx.errorbar(v["rate"], y, xerr=[[v["rate"] - lo], [hi - v["rate"]]], fmt="none", ecolor="black",
                            capsize=2, lw=1)
                bx.text(1.02, y, f"{v['rate']:.0%} ({v['harmful']}/{v['samples'] - v['errors']})", va="center",
                        fontsize=8, transform=bx.get_yaxis_transform())
            bx.set_yticks(ys, [str(v["value"]).replace("_", " ") for v in vals], fontsize=9)
            bx.set_xlim(0, 1)
            bx.set_title(f"by {k['label']}", fontsize=10, loc="left")
            bx.tick_params(axis="x", labelsize=8)
            bx.grid(axis="x", alpha=0.3)
        if knobs:
            bx.set_xlabel("harm rate (bars: Wilson 95% interval)", fontsize=9)
        return _png(fig)


# -- findings grouped by failure mode --------------------------------------------------------------------
def _ablation_summary(ablation: Mapping[str, Any] | None) -> str:
    """One line from a saved ablation: which changes decided the behaviour."""
    if not ablation:
        return "not ablated"
    variants = [v for v in ablation.get("variants") or [] if isinstance(v, dict)]
    hits = [str(v.get("change", "?")) for v in variants if v.get("significant")]
    if hits:
        return "depends on: " + "; ".join(hits[:4]) + (f" (+{len(hits) - 4} more)" if len(hits) > 4 else "")
    return f"no single change of {len(variants)} was significant"


def failure_modes(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """Corpus entries grouped by failure mode (harm, target role, from the saved signature), each
    with the conditions it needs and its ablation summary; most entries first."""
    from fuzzer.signature import parse_signature

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in entries:
        sig = e.provenance.get("signature")
        mode = parse_signature(sig) if isinstance(sig, str) else None
        harms = e.provenance.get("harms") or []
        harm = mode.harm if mode is not None else (str(harms[0]) if harms else "unknown")
        target = mode.target if mode is not None else "unknown"
        needs = [f"{k}={v}" for k, v in mode.conditions] if mode is not None else []
        groups.setdefault((harm, target), []).append(
            {"entry": e, "needs": needs, "ablation": _ablation_summary(e.ablation)})
    out = [{"harm": h, "target": t, "entries": g} for (h, t), g in groups.items()]
    out.sort(key=lambda g: (-len(g["entries"]), g["harm"], g["target"]))
    return out


_HARM_COLORS = {"blackmail": "#c0392b", "leak": "#8e44ad", "lockout": "#d35400", "lethal": "#2c3e50",
                "whistleblowing": "#2980b9", "disclosure": "#e67e22"}


def rates_png(entries: list[Entry]) -> str | None:
    """Each corpus entry's recorded harm rate with its Wilson 95% interval as error bars."""
    rated = [e for e in entries if e.rate is not None and e.ci95 is not None]
    if not rated:
        return None
    with _rc():
        fig = _figure(9, 0.9 + 0.38 * len(rated))
        ax = fig.add_subplot()
        ys = list(range(len(rated)))[::-1]
        for y, e in zip(ys, rated):
            harms = e.provenance.get("harms") or []
            color = _HARM_COLORS.get(harms[0] if harms and isinstance(harms[0], str) else "", "#7f8c8d")
            lo, hi = e.ci95  # type: ignore[misc]
            ax.barh(y, e.rate, color=color, alpha=0.85, height=0.6)
            ax.errorbar(e.rate, y, xerr=[[e.rate - lo], [hi - e.rate]], fmt="none", ecolor="black", capsize=3, lw=1)
        ax.set_yticks(ys, [f"{e.scenario.id[:8]}  {_clip(e.scenario.title or '', 38)}" for e in rated], fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_xlabel("harm rate (error bars: Wilson 95% interval)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title("recorded harm rate per corpus entry")
        return _png(fig)


def ablation_png(result: Mapping[str, Any]) -> str | None:
    """Forest plot: each variant's rate and interval against the base rate's band."""
    base = result.get("base") or {}
    vs = [v for v in result.get("variants") or [] if isinstance(v, dict) and v.get("rate") is not None]
    if not vs:
        return None
    with _rc():
        fig = _figure(9, 1.0 + 0.3 * len(vs))
        ax = fig.add_subplot()
        if base.get("ci95"):
            ax.axvspan(base["ci95"][0], base["ci95"][1], color="#3498db", alpha=0.15, label="base 95% CI")
        if base.get("rate") is not None:
            ax.axvline(base["rate"], color="#3498db", lw=1.5, label=f"base rate {base['rate']:.0%}")
        ys = list(range(len(vs)))[::-1]
        for y, v in zip(ys, vs):
            c = "#c0392b" if v.get("significant") else "#7f8c8d"
            ci = v.get("ci95") or [v["rate"], v["rate"]]
            face = c if v.get("visible", True) else "white"
            ax.errorbar(v["rate"], y, xerr=[[v["rate"] - ci[0]], [ci[1] - v["rate"]]], fmt="o", color=c, ecolor=c,
                        mfc=face, capsize=2)
        ax.set_yticks(ys, [_clip(v.get("change", ""), 60) for v in vs], fontsize=7)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("harm rate of the variant (red: significant change, sequential Fisher exact + Holm; "
                      "hollow: same prompt, re-judged)")
        ax.legend(loc="lower right", fontsize=7)
        ax.grid(axis="x", alpha=0.3)
        return _png(fig)


# -- rendering ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda x: "—" if x is None else f"{x:.0%}"
    env.filters["ci"] = lambda c: "—" if not c else f"{c[0]:.0%}–{c[1]:.0%}"
    env.filters["cut"] = lambda t: t if len(t) <= MAX_TEXT else t[:MAX_TEXT] + f"\n… [{len(t) - MAX_TEXT} more characters cut]"
    env.filters["pretty"] = _pretty
    env.filters["pval"] = lambda p: "—" if p is None else f"{p:.3g}"
    env.filters["signed"] = lambda x: "—" if x is None else f"{x:+.0%}"
    return env


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def render_html(data: Mapping[str, Any]) -> str:
    entries: list[Entry] = data["entries"]
    for e in entries:
        if e.ablation is not None:
            e.ablation_plot = ablation_png(e.ablation)
    run = data["run"]
    other_ablations = [a for k, a in data["ablations"].items() if k not in {e.scenario.id for e in entries}]
    ctx = {
        "kind": data["kind"], "source": data["source"], "corpus": data["corpus"],
        "meta": run.meta if run is not None else None, "entries": entries, "problems": data["problems"],
        "coverage": data["coverage"], "heatmap": heatmap_png(data["coverage"]), "rates_plot": rates_png(entries),
        "marginals": marginals(data["coverage"]), "modes": failure_modes(entries),
        "other_ablations": [(a, ablation_png(a)) for a in other_ablations],
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"), "simulated": data.get("simulated", False),
    }
    from fuzzer import __version__

    ctx["version"] = __version__
    return _env().get_template("report.html.j2").render(**ctx)


def build_report(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write the report for a run directory, a corpus folder or one scenario file (atomically)."""
    path = write_atomic(out, render_html(collect(source)))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # a report is for sharing; the temp file was created 0600
    return path
