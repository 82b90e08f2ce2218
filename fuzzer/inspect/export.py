"""A fuzz or replay run as an Inspect AI eval log, written with Inspect's own log API.

What is exported: every recorded transcript we can pair with its scenario.

- a run directory (``run.json``): the findings it saved, each with the evidence transcripts in
  its ``provenance.transcripts``, plus any transcript-v1 files inside the run directory;
- a corpus folder or one scenario file: each scenario with its recorded transcripts;
- a folder of transcripts (``replay --transcripts DIR``) with ``corpus=`` naming where their
  scenarios are (a transcript names its scenario by id).

Each transcript is one sample: the rendered system prompt and inbox, the agent's text and tool
calls with the simulated results, the rule oracles' verdict as the score (evidence as the
explanation), the token usage, and the scenario and its conditions as metadata. A transcript
keeps its actions and its text but not the turn they came in, so the sample shows them as one
assistant turn. A transcript whose model call failed, with no harmful action, is an errored
sample (not scored), as in ``fuzzer.rates``. Scripted agents' samples are marked SIMULATED.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalError,
    EvalLog,
    EvalMetric,
    EvalPlan,
    EvalPlanStep,
    EvalResults,
    EvalSample,
    EvalScore,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageTool,
    ChatMessageUser,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.tool import ToolCall

from fuzzer import __version__
from fuzzer.corpus import is_scenario_file, iter_corpus, load_scenario, load_transcript, read_yaml
from fuzzer.errors import CorpusError
from fuzzer.inspect.scores import SCORER, rate_metrics, verdict_score
from fuzzer.render import render
from fuzzer.scenario import Scenario
from fuzzer.transcript import TRANSCRIPT_SCHEMA, Transcript


@dataclass(frozen=True)
class Recorded:
    scenario: Scenario
    scenario_path: Path
    transcript: Transcript
    transcript_path: Path


def inspect_model_name(spec: str) -> str:
    """``anthropic:claude-x`` → ``anthropic/claude-x`` (Inspect's provider/model spelling)."""
    provider, sep, rest = spec.partition(":")
    return f"{provider}/{rest}" if sep and rest else spec


def _inside(folder: Path, rel: Any) -> Path | None:
    if not isinstance(rel, str) or not rel or os.path.isabs(rel) or ".." in Path(rel).parts:
        return None
    p = folder / rel
    return p if p.is_file() else None


def _with_transcripts(path: Path, scenario: Scenario) -> Iterator[Recorded]:
    paths = (scenario.provenance or {}).get("transcripts") or []
    for rel in paths if isinstance(paths, list) else []:
        target = _inside(path.parent, rel)
        if target is None:
            raise CorpusError(str(path), "provenance.transcripts", f"{rel!r} is not a file inside the scenario's folder")
        yield Recorded(scenario, path, load_transcript(target), target)


def _loose_transcripts(folder: Path, scenarios: dict[str, tuple[Path, Scenario]], seen: set[Path]) -> Iterator[Recorded]:
    """transcript-v1 files below ``folder`` not already exported, paired by their scenario id."""
    for p in sorted(folder.rglob("*.yaml")):
        if p.resolve() in seen or is_scenario_file(p):
            continue
        try:
            data = read_yaml(p)
        except CorpusError:
            continue
        if not isinstance(data, dict) or data.get("schema") != TRANSCRIPT_SCHEMA:
            continue
        t = load_transcript(p, data)
        if t.scenario is None or t.scenario not in scenarios:
            raise CorpusError(str(p), "scenario", f"{t.scenario!r} is not the id of a scenario in the corpus given")
        sp, s = scenarios[t.scenario]
        yield Recorded(s, sp, t, p)


def collect(source: str | os.PathLike[str], corpus: str | os.PathLike[str] | None = None) -> tuple[list[Recorded], dict[str, Any]]:
    """The recorded samples of ``source`` and what it was (for the log's header)."""
    src = Path(source)
    if not src.exists():
        raise CorpusError(str(src), "", "no such file or folder")
    meta: dict[str, Any] = {}
    scenario_files: list[Path] = []
    if (src / "run.json").is_file():
        from fuzzer.runlog import load_run

        try:
            run = load_run(src)
        except ValueError as exc:
            raise CorpusError(str(src / "run.json"), "", str(exc)) from None
        meta = {"kind": "fuzz", "model": run.meta.get("model"), "seed": run.meta.get("seed"),
                "started": run.meta.get("started"), "finished": run.meta.get("finished"),
                "settings": run.meta.get("settings") or {}, "run": str(src)}
        saved_in = Path(str(run.meta.get("corpus") or ""))
        for f in run.meta.get("findings") or []:
            p = Path(str(f.get("path", "")))
            if not p.is_file() and run.meta.get("corpus"):   # a path relative to where fuzz ran
                p = saved_in / p.name
            if not p.is_file():
                raise CorpusError(str(src / "run.json"), "findings.path", f"{f.get('path')!r}: no such scenario file")
            scenario_files.append(p)
        if corpus is None and run.meta.get("corpus"):
            corpus = run.meta["corpus"]
    elif src.is_file() or any(True for _ in iter_corpus([src])):
        meta = {"kind": "corpus"}
        scenario_files = list(iter_corpus([src]))
    else:
        meta = {"kind": "replay"}
    pool: dict[str, tuple[Path, Scenario]] = {}
    for p in list(iter_corpus([corpus])) if corpus is not None and Path(corpus).exists() else []:
        s = load_scenario(p)
        pool.setdefault(s.id, (p, s))
    out: list[Recorded] = []
    seen: set[Path] = set()
    for p in scenario_files:
        s = load_scenario(p)
        pool.setdefault(s.id, (p, s))
        for rec in _with_transcripts(p, s):
            if rec.transcript_path.resolve() not in seen:
                seen.add(rec.transcript_path.resolve())
                out.append(rec)
    if src.is_dir():
        out.extend(_loose_transcripts(src, pool, seen))
    return out, meta


def _messages(scenario: Scenario, t: Transcript) -> list[ChatMessage]:
    prompt = render(scenario)
    calls = [ToolCall(id=f"call-{i}", function=a.tool, arguments=dict(a.args)) for i, a in enumerate(t.actions)]
    out: list[ChatMessage] = [ChatMessageSystem(content=prompt.system), ChatMessageUser(content=prompt.user),
                              ChatMessageAssistant(content=t.final_text, tool_calls=calls or None, model=t.model)]
    for call, a in zip(calls, t.actions):
        out.append(ChatMessageTool(content=a.result or "", tool_call_id=call.id, function=a.tool))
    return out


def _usage(u: Any) -> ModelUsage:
    get = lambda k: int(u.get(k, 0) or 0)  # noqa: E731
    inp, outp = get("input_tokens"), get("output_tokens")
    return ModelUsage(input_tokens=inp, output_tokens=outp, total_tokens=inp + outp,
                      input_tokens_cache_read=get("cache_read_input_tokens") or None,
                      input_tokens_cache_write=get("cache_creation_input_tokens") or None)


def _add_usage(a: ModelUsage | None, b: ModelUsage) -> ModelUsage:
    if a is None:
        return b
    def add(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)
    return ModelUsage(input_tokens=a.input_tokens + b.input_tokens, output_tokens=a.output_tokens + b.output_tokens,
                      total_tokens=a.total_tokens + b.total_tokens,
                      input_tokens_cache_read=add(a.input_tokens_cache_read, b.input_tokens_cache_read),
                      input_tokens_cache_write=add(a.input_tokens_cache_write, b.input_tokens_cache_write))


def build_log(records: Iterable[Recorded], meta: dict[str, Any], *, source: str = "", harms: Any = None) -> EvalLog:
    """The ``EvalLog`` for these samples (not written)."""
    from oracles import check

    records = list(records)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    models = Counter(r.transcript.model for r in records)
    model = str(meta.get("model") or (models.most_common(1)[0][0] if models else "unknown"))
    simulated = any(r.transcript.simulated for r in records) or model.startswith("scripted:")
    samples: list[EvalSample] = []
    used_ids: set[str] = set()
    usage_total: dict[str, ModelUsage] = {}
    harmful = scored = 0
    for r in records:
        t, s = r.transcript, r.scenario
        sid = f"{s.id}-{t.sample}"
        n = 2
        while sid in used_ids:
            sid, n = f"{s.id}-{t.sample}.{n}", n + 1
        used_ids.add(sid)
        verdict = check(s, t, harms)
        name = inspect_model_name(t.model)
        usage = {name: _usage(t.usage)} if t.usage else {}
        for k, v in usage.items():
            usage_total[k] = _add_usage(usage_total.get(k), v)
        error = None
        scores = None
        if verdict.category == "error":
            error = EvalError(message=t.error or verdict.note or "not evaluated", traceback="", traceback_ansi="")
        else:
            scores = {SCORER: verdict_score(verdict)}
            scored += 1
            harmful += verdict.harmful
        samples.append(EvalSample(
            id=sid, epoch=1, input=render(s).user, target="not harmful",
            messages=_messages(s, t), output=ModelOutput.from_content(name, t.final_text, stop_reason="stop"),
            scores=scores, error=error, model_usage=usage,
            metadata={"scenario_id": s.id, "title": s.title, "scenario_path": str(r.scenario_path),
                      "transcript_path": str(r.transcript_path), "model": t.model, "sample": t.sample,
                      "stop_reason": t.stop_reason, "simulated": t.simulated, "conditions": s.conditions(),
                      "actions": [a.to_dict() for a in t.actions]},
        ))
    metrics = {k: EvalMetric(name=k, value=v) for k, v in rate_metrics(harmful, scored).items()}
    kind = str(meta.get("kind") or "corpus")
    tags = ["scenario-fuzzer", kind] + (["SIMULATED"] if simulated else [])
    return EvalLog(
        status="success",
        eval=EvalSpec(
            created=str(meta.get("started") or now), task=f"scenario_fuzzer/{kind}",
            run_id=Path(source).name or "scenario-fuzzer", task_id=f"scenario_fuzzer-{kind}-{Path(source).name}",
            task_args={k: v for k, v in {"seed": meta.get("seed"), **(meta.get("settings") or {})}.items() if v is not None},
            dataset=EvalDataset(name=source or None, location=source or None, samples=len(samples),
                                sample_ids=[smp.id for smp in samples]),
            model=inspect_model_name(model), config=EvalConfig(), packages={"scenario-fuzzer": __version__},
            tags=tags, metadata={"source": source, "exported_by": f"scenario-fuzzer {__version__}",
                                 "simulated": simulated, **({"run": meta["run"]} if meta.get("run") else {})},
        ),
        plan=EvalPlan(name="scenario-fuzzer", steps=[EvalPlanStep(solver="scenario_fuzzer tool loop", params={"model": model})]),
        results=EvalResults(total_samples=len(samples), completed_samples=scored,
                            scores=[EvalScore(name=SCORER, scorer=SCORER, scored_samples=scored,
                                              unscored_samples=len(samples) - scored, metrics=metrics)]),
        stats=EvalStats(started_at=str(meta.get("started") or now), completed_at=str(meta.get("finished") or now),
                        model_usage=usage_total),
        tags=tags,
        samples=samples,
    )


def export_inspect(source: str | os.PathLike[str], output: str | os.PathLike[str], *,
                   corpus: str | os.PathLike[str] | None = None, harms: Any = None) -> tuple[Path, EvalLog]:
    """Write ``source`` (a run directory, corpus, scenario file or transcripts folder) to ``output``
    (``.eval`` or ``.json``: Inspect picks the format by extension). Raises ``CorpusError`` for
    unusable input, before anything is written."""
    out = Path(output)
    if out.suffix not in (".eval", ".json"):
        raise CorpusError(str(out), "", "the output must end in .eval or .json (Inspect's log formats)")
    records, meta = collect(source, corpus)
    if not records:
        raise CorpusError(str(source), "", "no recorded transcripts to export (fuzz findings and "
                                           "replay --transcripts record them)")
    log = build_log(records, meta, source=str(source), harms=harms)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}{out.suffix}")
    try:
        write_eval_log(log, str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out, log
