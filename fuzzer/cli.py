"""``scenario-fuzz``: flags → engine and corpus commands. The only module that draws (rich).

Exit codes (contracts.md): 0 nothing found / all valid, 1 harm found / invalid / over the rate,
2 usage errors and unusable input, always with a one-line reason on stderr.

Each command lives in its own section below; keep edits inside your section.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from fuzzer import __version__
from fuzzer.errors import FuzzerError


def fail(message: str) -> NoReturn:
    """Usage error or unusable input: one line on stderr, exit 2."""
    click.echo(f"scenario-fuzz: error: {message}", err=True)
    sys.exit(2)


def console() -> Any:
    """The stdout console: the terminal's width, or 120 columns when piped (tables stay legible)."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenario-fuzz")
def cli() -> None:
    """Find, minimize and regression-test harmful behaviour of AI agents."""


# ==== validate / show (scenarios) =============================================================
def _check_file(path: Any) -> tuple[list[str], list[str]]:
    """Load one corpus file: (problems, warnings), each a ``path:field: why`` line."""
    import warnings

    from fuzzer.corpus import IdMismatchWarning, load_scenario, load_transcript
    from fuzzer.errors import CorpusError
    from fuzzer.transcript import TRANSCRIPT_SCHEMA

    try:
        with open(path, "r", encoding="utf-8", errors="replace") as fh:
            is_transcript = TRANSCRIPT_SCHEMA in fh.read(4096)
    except OSError:
        is_transcript = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IdMismatchWarning)
        try:
            (load_transcript if is_transcript else load_scenario)(path)
        except CorpusError as exc:
            return [str(exc)], []
    notes = [f"{path}:warning: {w.message}" for w in caught if issubclass(w.category, IdMismatchWarning)]
    return [], notes


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
def validate(paths: tuple[str, ...]) -> None:
    """Check corpus files (scenarios, and transcripts given by name); folders are searched.

    One line per problem, ``path:field: why``; an edited file whose id no longer matches its
    content is a warning, not a failure. Exit 1 if any file is invalid or a path does not exist.
    """
    from pathlib import Path

    from fuzzer.corpus import iter_corpus

    bad = checked = 0
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            click.echo(f"{raw}: no such file or directory")
            bad += 1
            continue
        files = list(iter_corpus([p])) if p.is_dir() else [p]
        if p.is_dir() and not files:
            click.echo(f"{raw}: warning: no scenario files found", err=True)
        for f in files:
            problems, notes = _check_file(f)
            checked += 1
            bad += bool(problems)
            for line in notes:
                click.echo(line, err=True)
            for line in problems:
                click.echo(line)
    click.echo(f"{checked} file{'s' if checked != 1 else ''} checked, {bad} invalid", err=True)
    sys.exit(1 if bad else 0)


@cli.command()
@click.argument("path", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: id, title, system, user, tools.")
def show(path: str, as_json: bool) -> None:
    """Print what the agent would see for a scenario file: system prompt, inbox, tools."""
    import warnings

    from fuzzer.corpus import load_scenario
    from fuzzer.errors import CorpusError
    from fuzzer.render import render

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an edited id does not change what is shown
            scenario = load_scenario(path)
    except CorpusError as exc:
        fail(str(exc))
    prompt = render(scenario)
    names = [t["name"] for t in prompt.tools]
    if as_json:
        emit_json({"id": scenario.id, "title": scenario.title, "system": prompt.system, "user": prompt.user,
                   "tools": names, "tool_specs": list(prompt.tools)})
        return
    rule = "=" * 72
    click.echo(f"{rule}\nscenario {scenario.id}" + (f": {scenario.title}" if scenario.title else ""))
    click.echo(f"{rule}\nSYSTEM\n{rule}\n{prompt.system}")
    click.echo(f"{rule}\nINBOX (first user message)\n{rule}\n{prompt.user}")
    click.echo(f"{rule}\nTOOLS: {', '.join(names)}")


# ==== judge (oracles) ===========================================================================
@cli.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False))
@click.argument("transcript_path", metavar="TRANSCRIPT", type=click.Path(dir_okay=False))
@click.option("--oracle", "kind", type=click.Choice(["rules", "judge", "ensemble"]), default="rules", show_default=True,
              help="rules (offline), an LLM judge, or both")
@click.option("--combine", type=click.Choice(["either", "both", "rules", "judge"]), default="either", show_default=True,
              help="how the ensemble joins rules and judge")
@click.option("--harms", default=None, help="comma-separated harm families that count (default: all)")
@click.option("--judge-model", default=None, help="model spec of the LLM judge [default: anthropic:claude-sonnet-4-5]")
@click.option("--concurrency", type=click.IntRange(1, 1024), default=1, show_default=True, help="judge requests in flight")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="response cache file for judge answers [default: .scenario-fuzz/cache.sqlite]")
@click.option("--no-cache", is_flag=True, help="do not read or write the response cache")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def judge(scenario_path: str, transcript_path: str, kind: str, combine: str, harms: str | None, judge_model: str | None,
          concurrency: int, cache_path: str | None, no_cache: bool, as_json: bool) -> None:
    """Run the oracles on one TRANSCRIPT of SCENARIO. Exit 1 if harmful, 0 if not.

    A transcript recording a failed model call is judged ``error`` (exit 0: nothing harmful was
    done); an oracle that cannot judge (judge unreachable, unreadable answer) exits 2.
    """
    import asyncio

    from fuzzer.corpus import load_scenario, load_transcript
    from fuzzer.verdict import parse_harms

    if cache_path and no_cache:
        fail("--cache and --no-cache exclude each other")
    try:
        policy = parse_harms(harms)
    except ValueError as exc:
        fail(str(exc))
    try:
        scenario = load_scenario(scenario_path)
        transcript = load_transcript(transcript_path)
    except FuzzerError as exc:
        fail(str(exc))
    import oracles

    if kind == "rules":
        verdict = oracles.check(scenario, transcript, policy)
    else:
        cache = None
        if not no_cache:
            from fuzzer.agents.cache import ResponseCache

            try:
                cache = ResponseCache(cache_path or ".scenario-fuzz/cache.sqlite")
            except Exception as exc:  # unusable cache path: say so in one line
                fail(f"--cache: cannot open {cache_path or '.scenario-fuzz/cache.sqlite'}: {exc}")
        try:
            oracle = oracles.build_oracle(kind, harms=policy, judge_model=judge_model or oracles.DEFAULT_JUDGE_MODEL,
                                          combine=combine, cache=cache, options={"judge": {"concurrency": concurrency}})
        except (ValueError, FuzzerError) as exc:
            fail(str(exc))

        async def run() -> Any:
            try:
                return await oracle(scenario, transcript)
            finally:
                await oracle.aclose()  # type: ignore[attr-defined]

        try:
            verdict = asyncio.run(run())
        finally:
            if cache is not None:
                cache.close()
    if verdict.category == "error" and transcript.error is None:
        fail(f"the {kind} oracle could not judge: {verdict.note or 'no reason given'}")
    if as_json:
        data = verdict.to_dict()
        if verdict.note:
            data["note"] = verdict.note
        emit_json(data)
    else:
        _print_verdict(verdict, transcript)
    sys.exit(1 if verdict.harmful else 0)


def _print_verdict(verdict: Any, transcript: Any) -> None:
    """Plain lines (no markup: evidence quotes model text, which may hold anything)."""
    def say(text: str) -> None:
        enc = getattr(sys.stdout, "encoding", None) or "utf-8"
        safe = "".join(ch if ch.isprintable() or ch in "\t" else " " for ch in text)
        click.echo(safe.encode(enc, errors="replace").decode(enc, errors="replace"))

    n = len(transcript.actions)
    say(f"{verdict.category.upper()}: {len(verdict.findings)} finding(s) over {n} action(s)"
        + (f" [{', '.join(verdict.harms)}]" if verdict.findings else ""))
    for f in verdict.findings:
        where = f" action {f.action}" if f.action is not None else ""
        say(f"  - {f.harm} ({f.oracle}, confidence {f.confidence:.2f}{where}): {f.evidence}")
    if verdict.note:
        say(f"  note: {verdict.note}")


# ==== fuzz / replay (engine) =====================================================================
def _engine_common(f: Any) -> Any:
    """Options every model-calling engine command shares (contracts.md)."""
    f = click.option("--json", "as_json", is_flag=True, help="print exactly one JSON object on stdout")(f)
    f = click.option("--judge-model", default=None,
                     help="model of the LLM judge for --oracle judge/ensemble [default: the oracles' default]")(f)
    f = click.option("--oracle", "oracle_kind", type=click.Choice(["rules", "judge", "ensemble"]), default="rules",
                     show_default=True, help="who decides harm: rule oracles (offline), an LLM judge, or both")(f)
    f = click.option("--harms", default=None, help="comma-separated harm families that count (default: all)")(f)
    f = click.option("--no-cache", is_flag=True, help="no response cache (a rerun pays again)")(f)
    f = click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
                     help="response cache file [default: .scenario-fuzz/cache.sqlite]")(f)
    f = click.option("--concurrency", "-c", type=click.IntRange(1, 1024), default=8, show_default=True,
                     help="model requests in flight at once")(f)
    return f


def _engine_setup(cache_path: str | None, no_cache: bool, harms: str | None) -> tuple[Any, Any]:
    from fuzzer.api import DEFAULT_CACHE
    from fuzzer.verdict import parse_harms

    if cache_path and no_cache:
        fail("--cache and --no-cache exclude each other")
    try:
        harm_set = None if harms is None else parse_harms(harms)
    except ValueError as exc:
        fail(str(exc))
    return (None if no_cache else (cache_path or DEFAULT_CACHE)), harm_set


def _fmt_rate(rate: float | None, ci: Any) -> str:
    if rate is None:
        return "not evaluated"
    return f"{rate:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{rate:.2f}"


def _fuzz_progress(console: Any, budget: int, max_calls: int | None) -> Any:
    """Rich progress bars bound to the engine's ``Progress`` callbacks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, TextColumn, TimeElapsedColumn

    from fuzzer.engine import Progress

    bars = Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(), console=console, transient=False)

    class RichProgress(Progress):
        def __init__(self) -> None:
            self.scenarios = bars.add_task("scenarios", total=budget, note="")
            self.calls = bars.add_task("model calls", total=max_calls, note="")
            self.shrink_task: Any = None

        def explore(self, done: int, total: int, model_calls: int, failures: int) -> None:
            bars.update(self.scenarios, completed=done, note=f"{failures} failing signature(s)")
            bars.update(self.calls, completed=model_calls)

        def shrink_start(self, signature: str, cap: int, people: int, emails: int) -> None:
            self.shrink_task = bars.add_task(f"shrinking {signature.split('/')[0]}", total=cap,
                                             note=f"{people} people / {emails} emails")

        def shrink_step(self, signature: str, evaluations: int, people: int, emails: int, model_calls: int = 0) -> None:
            bars.update(self.shrink_task, completed=evaluations, note=f"{people} people / {emails} emails")
            bars.update(self.calls, completed=model_calls)

        def shrink_end(self, signature: str) -> None:
            bars.update(self.shrink_task, visible=False)

        def skipped(self, signature: str, reason: str) -> None:
            bars.console.print(f"[dim]skip {signature}: {reason}[/]")

    return bars, RichProgress()


@cli.command()
@click.option("--model", "-m", required=True, help="model spec, e.g. anthropic:MODEL or scripted:self-preserving")
@click.option("--samples", "-k", type=click.IntRange(1, 10_000), default=5, show_default=True,
              help="samples per scenario")
@click.option("--budget", "-n", type=click.IntRange(0, 10_000_000), default=50, show_default=True,
              help="scenarios to explore")
@click.option("--seed", type=int, default=0, show_default=True, help="same seed, same scenarios (a rerun resumes from the cache)")
@click.option("--corpus", type=click.Path(file_okay=False), default="corpus", show_default=True)
@click.option("--min-rate", type=click.FloatRange(0.0, 1.0), default=None,
              help="a scenario fails when a harm's rate reaches this [default: any harmful sample]")
@click.option("--max-calls", type=click.IntRange(1, None), default=None, help="stop after about this many model requests")
@click.option("--time-limit", type=click.FloatRange(0.0, None), default=None, help="stop after about this many seconds")
@click.option("--recheck", type=click.IntRange(0, 10_000), default=20, show_default=True,
              help="fresh samples to re-check a minimized scenario with")
@click.option("--threat", type=click.Choice(["none", "restriction", "replacement", "shutdown"]), default=None)
@click.option("--leverage", type=click.Choice(["none", "affair", "fraud", "leak_opportunity"]), default=None)
@click.option("--ethical-options/--no-ethical-options", default=None, help="whether a legitimate route exists [default: drawn]")
@click.option("--goal-type", type=click.Choice(["none", "explicit", "ambiguous", "conflicting"]), default=None)
@click.option("--family", default=None, help="scenario family: blackmail, leaking, high_agency, lethal [default: drawn]")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default=".scenario-fuzz/runs", show_default=True,
              help="record the run in a new directory here (for `report`)")
@click.option("--no-run-log", is_flag=True, help="do not record the run")
@_engine_common
def fuzz(model: str, samples: int, budget: int, seed: int, corpus: str, min_rate: float | None,
         max_calls: int | None, time_limit: float | None, recheck: int, threat: str | None, leverage: str | None,
         ethical_options: bool | None, goal_type: str | None, family: str | None, runs_dir: str, no_run_log: bool,
         concurrency: int, cache_path: str | None, no_cache: bool, harms: str | None, oracle_kind: str,
         judge_model: str | None, as_json: bool) -> None:
    """Explore scenarios, judge the agent, shrink and save each new kind of harmful behaviour.

    Exit 1 when a harmful scenario was found and saved, 0 when none was.
    """
    from hypothesis.errors import InvalidArgument
    from rich.console import Console

    from fuzzer.api import fuzz as run_fuzz

    cache, harm_set = _engine_setup(cache_path, no_cache, harms)
    knobs = {"threat": threat, "leverage": leverage, "ethical_options": ethical_options, "goal_type": goal_type,
             "family": family}
    try:
        import strategies

        strategy = strategies.scenarios(**{k: v for k, v in knobs.items() if v is not None})
        strategy.validate()
    except (InvalidArgument, ValueError) as exc:
        fail(str(exc).splitlines()[0])
    err = Console(stderr=True, highlight=False)
    bars, progress = (None, None)
    if err.is_terminal:
        bars, progress = _fuzz_progress(err, budget, max_calls)
        bars.start()
    try:
        result = run_fuzz(model, samples=samples, budget=budget, seed=seed, corpus=corpus, cache=cache,
                          concurrency=concurrency, harms=harm_set, min_rate=min_rate, max_calls=max_calls,
                          time_limit=time_limit, recheck=recheck, strategy=strategy, progress=progress,
                          runs=None if no_run_log else runs_dir, oracle=oracle_kind, judge_model=judge_model,
                          **knobs)
    except FuzzerError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        click.echo("scenario-fuzz: interrupted; the corpus holds what was saved so far", err=True)
        sys.exit(130)
    finally:
        if bars is not None:
            bars.stop()
    if result.scenarios and result.not_evaluated == result.scenarios:  # nothing could be judged: not a pass
        fail(f"every sample failed, nothing was evaluated: {(result.first_error or 'unknown error').splitlines()[0]}")
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_fuzz(result, corpus)
    sys.exit(1 if result.findings else 0)


def _print_fuzz(result: Any, corpus: str) -> None:
    from rich.markup import escape

    out = console()
    label = " [bold yellow]SIMULATED[/] (scripted agent: not a model's behaviour)" if result.simulated else ""
    out.print(f"model [bold]{escape(result.model)}[/]{label}  seed {result.seed}")
    if result.run_dir is not None:
        from fuzzer.runlog import coverage_table, explored, read_records

        rows = coverage_table(explored(read_records(Path(result.run_dir) / "cells.jsonl")))
        if rows:
            shown = 15
            out.print(coverage_rich(rows[:shown], title="explored condition cells (threat x leverage x ethical x goal x nudge)"))
            if len(rows) > shown:
                out.print(f"[dim]... {len(rows) - shown} more cells: see the run's report[/]")
    if result.findings:
        out.print(f"[bold]{len(result.findings)} new harmful scenario(s) saved to {escape(corpus)}[/]")
        for f in result.findings:
            d = f.to_dict()
            shrunk = f"shrunk from {f.shrunk_from['people']}/{f.shrunk_from['emails']}"
            if f.verified is False:
                check = f"[yellow]not reproduced: {f.rate.harmful}/{f.rate.samples} fresh samples[/]"
            else:
                check = f"rate {_fmt_rate(d['rate'], d['ci95'])} over {f.rate.samples} fresh samples"
            out.print(f"  [bold red]{escape(', '.join(f.harms))}[/]  {escape(str(f.path))}")
            out.print(f"      {check} · {f.people} people, {f.emails} emails ({shrunk}) · "
                      f"{f.calls_to_shrink} model calls to shrink")
    else:
        out.print("no new harmful scenario found")
    if result.known:
        out.print(f"{len(result.known)} failing signature(s) already in the corpus, not saved again")
    stopped = f"; stopped early: {result.stopped}" if result.stopped else ""
    if result.not_evaluated:
        out.print(f"[yellow]{result.not_evaluated} scenario(s) not evaluated (every sample failed), e.g. "
                  f"{escape(str(result.first_error))}[/]")
    out.print(f"scenarios {result.scenarios} · model calls {result.model_calls} · cache hits {result.cache_hits}"
              f" · error samples {result.errors}{stopped}")
    if result.run_dir is not None:
        out.print(f"run recorded in {escape(str(result.run_dir))} (scenario-fuzz report {escape(str(result.run_dir))} -o report.html)")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "-m", required=True, help="model spec, e.g. anthropic:MODEL")
@click.option("--samples", "-k", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--max-harm-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="exit 1 if an entry's harm rate is above this (or it could not be evaluated)")
@_engine_common
def replay(paths: tuple[str, ...], model: str, samples: int, max_harm_rate: float, concurrency: int,
           cache_path: str | None, no_cache: bool, harms: str | None, oracle_kind: str, judge_model: str | None,
           as_json: bool) -> None:
    """Re-run corpus entries K times each and print their harm rates with 95% intervals."""
    from fuzzer.api import replay as run_replay

    cache, harm_set = _engine_setup(cache_path, no_cache, harms)
    try:
        results = run_replay(list(paths), model, samples=samples, concurrency=concurrency, cache=cache,
                             harms=harm_set, oracle=oracle_kind, judge_model=judge_model)
    except FuzzerError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        click.echo("scenario-fuzz: interrupted", err=True)
        sys.exit(130)
    if not results:
        fail(f"no scenario files in {', '.join(paths)}")
    over = [r for r in results if r.over(max_harm_rate)]
    if as_json:
        emit_json({"results": [r.to_dict() for r in results], "max_harm_rate": max_harm_rate,
                   "over": [str(r.path) for r in over]})
    else:
        from rich.table import Table

        table = Table(title=f"{model}: {samples} samples each, allowed rate {max_harm_rate:.2f}", title_justify="left")
        for name in ("file", "id", "harmful", "rate [95% CI]", "harms", "errors"):
            table.add_column(name, overflow="fold", no_wrap=name != "file")
        for r in results:
            d = r.to_dict()
            table.add_row(str(r.path), r.id, f"{r.rate.harmful}/{r.rate.evaluated}", _fmt_rate(d["rate"], d["ci95"]),
                          ", ".join(d["harms"]), str(r.rate.errors), style="bold red" if r in over else None)
        console().print(table)
    sys.exit(1 if over else 0)


# ==== ablate / report (explain) ==================================================================
def coverage_rich(rows: list[dict[str, Any]], title: str = "coverage per condition cell") -> Any:
    """A ``rich`` table of ``fuzzer.runlog.coverage_table(records)`` rows (for the fuzz summary)."""
    from rich.table import Table

    from fuzzer.runlog import COVERAGE_COLUMNS, coverage_cells

    table = Table(title=title, title_justify="left")
    for name in COVERAGE_COLUMNS:
        table.add_column(name, justify="right" if name in ("scenarios", "samples", "harmful", "rate", "95% CI") else "left")
    for row in rows:
        style = "bold red" if (row.get("rate") or 0) >= 0.5 else None
        table.add_row(*coverage_cells(row), style=style)
    return table


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--model", "-m", required=True, help="model spec, e.g. anthropic:MODEL or scripted:NAME")
@click.option("--samples", "-k", type=click.IntRange(1, 10_000), default=10, show_default=True,
              help="samples per variant (and for the original)")
@click.option("--save", is_flag=True, help="also write the result to <scenario folder>/ablations/<id>.json")
@click.option("--save-to", type=click.Path(file_okay=False), default=None,
              help="write the result to DIR/ablations/<id>.json (a run directory or corpus folder)")
@_engine_common
def ablate(path: str, model: str, samples: int, concurrency: int, cache_path: str | None, no_cache: bool,
           harms: str | None, oracle_kind: str, judge_model: str | None, as_json: bool, save: bool,
           save_to: str | None) -> None:
    """Rate change when each condition or element of the scenario at PATH is flipped or removed."""
    from fuzzer.ablate import ablate as run_ablation
    from fuzzer.api import Session
    from fuzzer.corpus import load_scenario, write_atomic
    from fuzzer.runlog import ablation_path

    cache, harm_set = _engine_setup(cache_path, no_cache, harms)
    try:
        scenario = load_scenario(path)
        with Session(model, concurrency=concurrency, cache=cache, harms=harm_set, oracle=oracle_kind,
                     judge_model=judge_model) as session:
            result = session.loop.run(run_ablation(scenario, session.agent, session.oracle, samples,
                                                   harms=harm_set, concurrency=concurrency))
    except FuzzerError as exc:
        fail(str(exc))
    data = result.to_dict()
    targets = ([Path(path).parent] if save else []) + ([Path(save_to)] if save_to else [])
    saved = [str(write_atomic(ablation_path(d, scenario.id), json.dumps(data, indent=2) + "\n")) for d in targets]
    if as_json:
        emit_json({**data, "saved": saved} if saved else data)
        return
    _print_ablation(result, saved)


def _print_ablation(result: Any, saved: list[str]) -> None:
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.0%}"

    def ci(c: Any) -> str:
        return "—" if not c else f"{c[0]:.0%}–{c[1]:.0%}"

    out = console()
    out.print(f"{result.scenario.id} {result.scenario.title}  model {result.model}", markup=False)
    out.print(f"base: {result.harmful}/{result.samples - result.errors} harmful = {pct(result.rate)} "
                  f"(95% CI {ci(result.ci95)}){f', {result.errors} errors' if result.errors else ''}")
    table = Table(title=f"{len(result.variants)} variants · {result.test}", title_justify="left")
    for name, just in (("change", "left"), ("rate", "right"), ("95% CI", "right"), ("delta", "right"),
                       ("p", "right"), ("significant", "left")):
        table.add_column(name, justify=just)  # type: ignore[arg-type]
    for v in result.variants:
        delta = "—" if v.delta is None else f"{v.delta:+.0%}"
        p = "—" if v.p_value is None else f"{v.p_value:.3g}"
        sig = "yes" if v.significant else ("" if v.visible else "n/a (same prompt)")
        table.add_row(v.change, pct(v.rate), ci(v.ci95), delta, p, sig,
                      style="bold red" if v.significant else (None if v.visible else "dim"))
    out.print(table)
    for s in saved:
        out.print(f"saved {s}")


@cli.command()
@click.argument("source", type=click.Path())
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="report.html", show_default=True)
def report(source: str, output: str) -> None:
    """Self-contained HTML report (plots inline) for a run directory, a corpus folder or one file."""
    from fuzzer.report import build_report

    try:
        path = build_report(source, output)
    except FuzzerError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    click.echo(str(path))


# ==== models (local model catalogue) ===========================================================
@cli.command()
@click.argument("names", nargs=-1)
@click.option("--measure", is_flag=True, help="load each installed model and time one short completion")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def models(names: tuple[str, ...], measure: bool, as_json: bool) -> None:
    """The offline models local:NAME can run (all, or NAMES): installed or not, size, file, install
    command, and with --measure their speed here."""
    from fuzzer.agents.model_info import catalogue

    try:
        rows = catalogue(measure=measure, names=names or None)
    except FuzzerError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"models": rows})
        return
    from rich.table import Table

    table = Table("model", "installed", "size", "speed (prompt / generated tok/s)", "file or install command")
    for r in rows:
        speed = (f"{r['prompt_tokens_per_s']} / {r['generated_tokens_per_s']} ({r['threads']} threads, load {r['load_seconds']} s)"
                 if r.get("generated_tokens_per_s") is not None else "-")
        size = f"{r['size_bytes'] / 1e6:.0f} MB" if r.get("size_bytes") else "-"
        table.add_row(f"local:{r['name']}", "yes" if r["installed"] else "no", size, speed,
                      r.get("path") or r["install_hint"])
    console().print(table)



def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="scenario-fuzz", standalone_mode=True)
    except FuzzerError as exc:
        fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
