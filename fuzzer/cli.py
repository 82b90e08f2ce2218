"""``scenario-fuzz``: flags → engine and corpus commands. The only module that draws (rich).

Exit codes (contracts.md): 0 nothing found / all valid, 1 harm found / invalid / over the rate,
2 usage errors and unusable input, always with a one-line reason on stderr.

Each command lives in its own section below; keep edits inside your section.
"""

from __future__ import annotations

import json
import re
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

    from fuzzer.corpus import IdMismatchWarning, load_scenario, load_transcript, sniff
    from fuzzer.errors import CorpusError

    is_transcript = sniff(path) == "transcript"
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
@click.argument("transcript_path", metavar="RESPONSE", type=click.Path(dir_okay=False))
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
    """Run the oracles on one RESPONSE of SCENARIO. Exit 1 if harmful, 0 if not.

    RESPONSE is a transcript (transcript-v1 YAML) or any raw model text: its tool-use blocks (ours,
    the original study's ``<tool_use:email>`` / ``<tool_use:forward>``, the signature style) become
    the actions, the rest is the final text. A transcript recording a failed model call is judged
    on the actions it recorded before the failure: harmful if they are (exit 1), else ``error``
    (exit 0); an oracle that cannot judge (judge unreachable, unreadable answer) exits 2.
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
        transcript = _read_response(scenario, transcript_path, load_transcript)
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


def _read_response(scenario: Any, path: str, load_transcript: Any) -> Any:
    """A transcript file, or raw model text turned into one (see ``fuzzer.agents.textcalls``)."""
    import yaml

    from fuzzer.agents.textcalls import transcript_from_text
    from fuzzer.corpus import MAX_FILE_BYTES
    from fuzzer.transcript import TRANSCRIPT_SCHEMA

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        fail(f"{path}: file is over the {MAX_FILE_BYTES}-byte limit")
    text = raw.decode("utf-8", errors="replace")
    if TRANSCRIPT_SCHEMA in text:
        return load_transcript(path)  # says it is a transcript: its errors are reported as such
    data: Any = None
    if re.search(r"(?m)^(?:actions|final_text)\s*:", text):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            data = None  # not YAML after all: raw text that mentions the words
    if isinstance(data, dict) and ("actions" in data or data.get("schema") == TRANSCRIPT_SCHEMA):
        return load_transcript(path, data)
    return transcript_from_text(scenario, text)


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
    f = click.option("--model-revision", "model_revision", default=None, callback=_revision,
                     help="the model's revision (a provider may move an alias to new weights); part of the cache "
                          "key, so a new revision is asked, never answered from an old one")(f)
    return f


def _revision(ctx: Any, param: Any, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty")
    return value.strip() if value else None


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


def _cost_options(f: Any) -> Any:
    """``--batch`` and ``--prices`` (fuzz, replay): the Message Batches API and the price table."""
    f = click.option("--prices", "prices_path", type=click.Path(dir_okay=False), default=None,
                     help="JSON price table for the cost estimate [default: $SCENARIO_FUZZ_PRICES or built in]")(f)
    f = click.option("--batch", is_flag=True,
                     help="anthropic: send the samples through the Message Batches API (half price, slower)")(f)
    return f


def _cost_setup(model: str, batch: bool, prices_path: str | None, concurrency: int) -> tuple[Any, Any]:
    """(agent options or None, the price table), failing fast on a bad --batch or price file."""
    from fuzzer.costs import load_prices

    if batch and not model.startswith("anthropic:"):
        fail(f"--batch needs an anthropic: model, not {model!r}")
    try:
        prices = load_prices(prices_path)
    except FuzzerError as exc:
        fail(str(exc))
    if not batch:
        return None, prices
    from fuzzer.agents.base import AgentOptions

    return AgentOptions(concurrency=concurrency, batch=True), prices


def _usage_line(usage: Any, judge_usage: Any, cost: Any) -> str | None:
    """The summary's token line(s): tokens billed by kind, the judge's apart, and the estimated
    cost the run computed (None when no tokens were billed)."""
    from fuzzer.costs import cache_share, usage_totals

    lines = []
    for who, counts in (("tokens", usage), ("judge tokens", judge_usage)):
        u = usage_totals(counts)
        if not any(u.values()):
            continue
        share = cache_share(u)
        lines.append(f"{who}: input {u['input_tokens']} · output {u['output_tokens']} · cache read "
                     f"{u['cache_read_input_tokens']} · cache write {u['cache_creation_input_tokens']}"
                     + (f" ({share:.0%} of input read from cache)" if share is not None else ""))
    if not lines:
        return None
    if cost is None:
        return "\n".join(lines)
    if cost["usd"] is None:
        lines[-1] += f" · no price for {', '.join(cost['unpriced'])} (--prices FILE)"
    else:
        judge = cost.get("judge")
        lines[-1] += (f" · est. cost ${cost['usd']:.4f}{' (batch)' if cost['batch'] else ''}"
                      + (f", judge ${judge['usd']:.4f} of it" if judge else "") + f" ({cost['prices']} prices)")
    return "\n".join(lines)


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
            self.shrinking: dict[str, Any] = {}  # one bar per shrink under way (they run concurrently)

        def explore(self, done: int, total: int, model_calls: int, failures: int) -> None:
            bars.update(self.scenarios, completed=done, note=f"{failures} failure(s)")
            bars.update(self.calls, completed=model_calls)

        def shrink_start(self, signature: str, cap: int, people: int, emails: int) -> None:
            harm, _, rest = signature.partition("/")
            target = rest.split("/")[0].removeprefix("target=")
            self.shrinking[signature] = bars.add_task(f"shrinking {harm} of {target}", total=cap,
                                                      note=f"{people} people / {emails} emails")

        def shrink_step(self, signature: str, evaluations: int, people: int, emails: int, model_calls: int = 0) -> None:
            if signature in self.shrinking:
                bars.update(self.shrinking[signature], completed=evaluations, note=f"{people} people / {emails} emails")
            bars.update(self.calls, completed=model_calls)

        def shrink_end(self, signature: str) -> None:
            task = self.shrinking.pop(signature, None)
            if task is not None:
                bars.update(task, visible=False)

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
@click.option("--max-calls", type=click.IntRange(1, None), default=None,
              help="stop after about this many model requests (with --shared: the whole campaign's)")
@click.option("--time-limit", type=click.FloatRange(0.0, None), default=None,
              help="stop after about this many seconds (with --shared: since the campaign's first worker started)")
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
@click.option("--shared", default=None, metavar="redis://HOST:PORT/DB",
              help="one worker of a campaign in Redis: shared budget, cache, example database, findings")
@_cost_options
@_engine_common
def fuzz(model: str, samples: int, budget: int, seed: int, corpus: str, min_rate: float | None,
         max_calls: int | None, time_limit: float | None, recheck: int, threat: str | None, leverage: str | None,
         ethical_options: bool | None, goal_type: str | None, family: str | None, runs_dir: str, no_run_log: bool,
         concurrency: int, cache_path: str | None, no_cache: bool, harms: str | None, oracle_kind: str,
         judge_model: str | None, as_json: bool, model_revision: str | None, shared: str | None,
         batch: bool = False, prices_path: str | None = None) -> None:
    """Explore scenarios, judge the agent, shrink and save each new kind of harmful behaviour.

    Exit 1 when a harmful scenario was found and saved, 0 when none was.
    """
    from hypothesis.errors import InvalidArgument
    from rich.console import Console

    from fuzzer.api import fuzz as run_fuzz

    cache, harm_set = _engine_setup(cache_path, no_cache, harms)
    agent_options, prices = _cost_setup(model, batch, prices_path, concurrency)
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
                          model_revision=model_revision, agent_options=agent_options, shared=shared, prices=prices,
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
    _say_unexpected()
    sys.exit(1 if result.findings else 0)


def _say_unexpected() -> None:
    """Name the run's unexpected exceptions on stderr (their tracebacks were logged once each)."""
    from fuzzer import unexpected

    line = unexpected.summary()
    if line is not None:
        click.echo(f"scenario-fuzz: {line}", err=True)


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
        out.print(f"[bold]{len(result.findings)} new failure mode(s) saved to {escape(corpus)}[/] "
                  f"({result.failures} failing scenario(s) explored, {result.shrinks} shrink(s))")
        for f in sorted(result.findings, key=lambda f: (f.family, f.target, f.conditions)):
            d = f.to_dict()
            needs = ", ".join(f"{k}={v}" for k, v in f.conditions) or "no special condition"
            shrunk = f"shrunk from {f.shrunk_from['people']}/{f.shrunk_from['emails']}"
            if f.verified is False:
                check = f"[yellow]not reproduced: {f.rate.harmful}/{f.rate.samples} fresh samples[/]"
            elif f.verified is None:
                check = f"[yellow]not re-checked (budget spent): {f.rate.harmful}/{f.rate.samples} exploration samples[/]"
            else:
                check = f"rate {_fmt_rate(d['rate'], d['ci95'])} over {f.rate.samples} fresh samples"
            out.print(f"  [bold red]{escape(f.family)}[/] of the [bold]{escape(f.target)}[/] needs "
                      f"{escape(needs)}" + (f"  [dim](+ {escape(', '.join(f.harms[1:]))})[/]" if len(f.harms) > 1 else ""))
            out.print(f"      {escape(str(f.path))} · stands for {f.covers} failing scenario(s)")
            out.print(f"      {check} · {f.people} people, {f.emails} emails ({shrunk}) · "
                      f"{f.calls_to_shrink} model calls to shrink")
    else:
        out.print("no new harmful scenario found")
    if getattr(result, "unshrunk", 0):
        out.print(f"[yellow]{result.unshrunk} failure(s) left unshrunk and unsaved: the budget ran out[/]")
    if result.known:
        out.print(f"{result.covered} failure(s) covered by {len(result.known)} failure mode(s) already in the corpus, "
                  "not shrunk again")
    stopped = f"; stopped early: {result.stopped}" if result.stopped else ""
    if result.not_evaluated:
        out.print(f"[yellow]{result.not_evaluated} scenario(s) not evaluated (every sample failed), e.g. "
                  f"{escape(str(result.first_error))}[/]")
    out.print(f"scenarios {result.scenarios} · model calls {result.model_calls} · cache hits {result.cache_hits}"
              f" · error samples {result.errors}{stopped}")
    tokens = _usage_line(result.usage, result.judge_usage, result.cost)
    if tokens:
        out.print(escape(tokens))
    if result.run_dir is not None:
        out.print(f"run recorded in {escape(str(result.run_dir))} (scenario-fuzz report {escape(str(result.run_dir))} -o report.html)")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "-m", required=True, help="model spec, e.g. anthropic:MODEL")
@click.option("--samples", "-k", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--max-harm-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="exit 1 if an entry's harm rate is above this (or it could not be evaluated)")
@click.option("--transcripts", "transcripts_dir", type=click.Path(file_okay=False), default=None,
              help="write every sample's transcript (transcript-v1) to DIR/<id>-<sample>.yaml")
@click.option("--shared", default=None, metavar="redis://HOST:PORT/DB",
              help="share the response cache in Redis: replays of one corpus on several machines pay once per call")
@_cost_options
@_engine_common
def replay(paths: tuple[str, ...], model: str, samples: int, max_harm_rate: float, concurrency: int,
           cache_path: str | None, no_cache: bool, harms: str | None, oracle_kind: str, judge_model: str | None,
           as_json: bool, model_revision: str | None, transcripts_dir: str | None, shared: str | None = None,
           batch: bool = False, prices_path: str | None = None) -> None:
    """Re-run corpus entries K times each and print their harm rates with 95% intervals.

    The samples are fresh: never the ones `fuzz` explored, shrank or re-checked with, so a replay
    after a fuzz asks the model. Repeating the same replay on the same cache reuses its answers.
    """
    from fuzzer.api import replay as run_replay
    from fuzzer.costs import usage_totals

    cache, harm_set = _engine_setup(cache_path, no_cache, harms)
    agent_options, prices = _cost_setup(model, batch, prices_path, concurrency)
    try:
        results = run_replay(list(paths), model, samples=samples, concurrency=concurrency, cache=cache,
                             harms=harm_set, oracle=oracle_kind, judge_model=judge_model,
                             model_revision=model_revision, transcripts=transcripts_dir,
                             agent_options=agent_options, prices=prices, shared=shared)
    except FuzzerError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{getattr(exc, 'filename', None) or transcripts_dir}: cannot write: {exc.strerror or exc}")
    except KeyboardInterrupt:
        click.echo("scenario-fuzz: interrupted", err=True)
        sys.exit(130)
    if not results:
        fail(f"no scenario files in {', '.join(paths)}")
    over = [r for r in results if r.over(max_harm_rate)]
    usage, judge_usage, cost = results.usage, results.judge_usage, results.cost
    if as_json:
        from fuzzer import unexpected

        emit_json({"results": [r.to_dict() for r in results], "max_harm_rate": max_harm_rate,
                   "over": [str(r.path) for r in over], "usage": usage_totals(usage),
                   "judge_usage": usage_totals(judge_usage), "cost": cost,
                   **({"unexpected": unexpected.counts()} if unexpected.counts() else {})})
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
        tokens = _usage_line(usage, judge_usage, cost)
        if tokens:
            console().print(tokens, markup=False)
        if transcripts_dir:
            n = sum(len(r.transcripts) for r in results)
            click.echo(f"{n} transcript(s) written to {transcripts_dir}", err=True)
    _say_unexpected()
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
@click.option("--samples", "-k", type=click.IntRange(1, 10_000), default=24, show_default=True,
              help="most samples per variant (and for the original); each stops once its difference is decided")
@click.option("--per-look", "per_look", type=click.IntRange(1, 10_000), default=4, show_default=True,
              help="samples per look of the sequential test")
@click.option("--save", is_flag=True, help="also write the result to <scenario folder>/ablations/<id>.json")
@click.option("--save-to", type=click.Path(file_okay=False), default=None,
              help="write the result to DIR/ablations/<id>.json (a run directory or corpus folder)")
@_engine_common
def ablate(path: str, model: str, samples: int, per_look: int, concurrency: int, cache_path: str | None, no_cache: bool,
           harms: str | None, oracle_kind: str, judge_model: str | None, as_json: bool, save: bool,
           save_to: str | None, model_revision: str | None) -> None:
    """Rate change when each condition or element of the scenario at PATH is flipped or removed."""
    from fuzzer.ablate import ablate as run_ablation
    from fuzzer.api import Session
    from fuzzer.corpus import load_scenario, write_atomic
    from fuzzer.runlog import ablation_path

    cache, harm_set = _engine_setup(cache_path, no_cache, harms)
    try:
        scenario = load_scenario(path)
        with Session(model, concurrency=concurrency, cache=cache, harms=harm_set, oracle=oracle_kind,
                     judge_model=judge_model, model_revision=model_revision) as session:
            result = session.loop.run(run_ablation(scenario, session.agent, session.oracle, samples,
                                                   harms=harm_set, concurrency=concurrency, batch=per_look,
                                                   progress=None if as_json else _ablate_progress))
    except FuzzerError as exc:
        fail(str(exc))
    data = result.to_dict()
    targets = ([Path(path).parent] if save else []) + ([Path(save_to)] if save_to else [])
    saved = [str(write_atomic(ablation_path(d, scenario.id), json.dumps(data, indent=2) + "\n")) for d in targets]
    if as_json:
        emit_json({**data, "saved": saved} if saved else data)
        return
    _print_ablation(result, saved)


def _ablate_progress(look: int, looks: int, undecided: int) -> None:
    click.echo(f"look {look}/{looks}: {undecided} variant(s) still undecided", err=True)


def _print_ablation(result: Any, saved: list[str]) -> None:
    from rich.table import Table
    from rich.text import Text  # a change names mail subjects from the file: never markup

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.0%}"

    def ci(c: Any) -> str:
        return "—" if not c else f"{c[0]:.0%}–{c[1]:.0%}"

    out = console()
    out.print(f"{result.scenario.id} {result.scenario.title}  model {result.model}", markup=False)
    out.print(f"base: {result.harmful}/{result.samples - result.errors} harmful = {pct(result.rate)} "
                  f"(95% CI {ci(result.ci95)}){f', {result.errors} errors' if result.errors else ''}")
    table = Table(title=f"{len(result.variants)} variants · {result.test}", title_justify="left")
    for name, just in (("change", "left"), ("n", "right"), ("rate", "right"), ("95% CI", "right"),
                       ("delta", "right"), ("p*", "right"), ("status", "left")):
        table.add_column(name, justify=just)  # type: ignore[arg-type]
    for v in result.variants:
        delta = "—" if v.delta is None else f"{v.delta:+.0%}"
        p = "—" if v.p_value is None else f"{v.p_value:.3g}"
        n = str(v.samples - v.errors) if v.visible else "—"
        table.add_row(Text(v.change), n, pct(v.rate), ci(v.ci95), delta, p, v.status,
                      style="bold red" if v.significant else (None if v.visible else "dim"))
    out.print(table)
    out.print(f"{result.calls} samples drawn (at most {result.max_samples} per variant)")
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


# ==== export / import (Inspect AI; the optional `inspect` extra) ===================================
def _need_inspect(module: str) -> None:
    from fuzzer.inspect import ExtraMissing, require

    try:
        require(module)
    except ExtraMissing as exc:
        fail(str(exc))


@cli.group()
def export() -> None:
    """Write runs in other tools' formats."""


@export.command("inspect")
@click.argument("run", type=click.Path(path_type=str))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="FILE.eval (or .json)")
@click.option("--corpus", type=click.Path(file_okay=False), default=None,
              help="where the scenarios of loose transcripts are (default: the run's corpus)")
@click.option("--harms", default=None, help="comma-separated harm families that count (default: all)")
def export_inspect_cmd(run: str, output: str, corpus: str | None, harms: str | None) -> None:
    """A run directory, corpus or transcripts folder as an Inspect AI log (`inspect view` opens it)."""
    _need_inspect("inspect_ai")
    from fuzzer.inspect.export import export_inspect
    from fuzzer.verdict import parse_harms

    try:
        path, log = export_inspect(run, output, corpus=corpus, harms=parse_harms(harms))
    except ValueError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    metrics = log.results.scores[0].metrics if log.results and log.results.scores else {}
    rate = metrics.get("harm_rate")
    click.echo(f"{path}: {len(log.samples or [])} samples"
               + (f", harm rate {rate.value:.2f}" if rate is not None and rate.value == rate.value else ""))


@cli.group("import")
def import_() -> None:
    """Bring published cases in as corpus files."""


@import_.command("inspect-evals")
@click.option("--scenario", "scenarios", multiple=True, type=click.Choice(["blackmail", "leaking", "murder"]),
              help="repeatable [default: all]")
@click.option("--goal-type", "goal_types", multiple=True,
              type=click.Choice(["explicit", "latent", "swap", "ambiguous", "none"]), help="repeatable [default: all]")
@click.option("--goal-value", "goal_values", multiple=True,
              type=click.Choice(["america", "global", "safety", "acceleration", "ethical", "pragmatic",
                                 "individualism", "collectivism", "none"]), help="repeatable [default: all]")
@click.option("--urgency-type", "urgency_types", multiple=True, type=click.Choice(["replacement", "restriction", "none"]),
              help="repeatable [default: all]")
@click.option("--extra-instructions", type=click.Choice(["dont"]), default=None,
              help="the port's extra_system_instructions=dont, as our prohibit_leverage nudge")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="corpus folder to write")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def import_inspect_evals(scenarios: tuple[str, ...], goal_types: tuple[str, ...], goal_values: tuple[str, ...],
                         urgency_types: tuple[str, ...], extra_instructions: str | None, output: str, as_json: bool) -> None:
    """The published agentic-misalignment conditions (from the installed inspect_evals) as v1 files."""
    _need_inspect("inspect_evals.agentic_misalignment")
    from fuzzer.corpus import save_scenario
    from fuzzer.inspect.importer import convert, published_grid

    try:
        grid = published_grid(scenarios or None, goal_types or None, goal_values or None, urgency_types or None,
                              extra_instructions)
    except ValueError as exc:
        fail(str(exc))
    if not grid:
        fail("no published condition matches these options (goal types none and ambiguous take --goal-value none)")
    written = []
    for cond in grid:
        try:
            scenario = convert(cond)
        except ValueError as exc:
            fail(f"{cond.id}: {exc}")
        try:
            path = save_scenario(output, scenario)
        except OSError as exc:
            fail(f"{output}: cannot write: {exc.strerror or exc}")
        written.append({"path": str(path), "id": scenario.id, "condition": cond.id})
    if as_json:
        emit_json({"files": written, "count": len(written)})
    else:
        for w in written:
            click.echo(f"{w['path']}  {w['condition']}")
        click.echo(f"{len(written)} conditions written to {output}")


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
