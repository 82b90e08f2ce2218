"""``scenario-fuzz``: flags → engine and corpus commands. The only module that draws (rich).

Exit codes (contracts.md): 0 nothing found / all valid, 1 harm found / invalid / over the rate,
2 usage errors and unusable input, always with a one-line reason on stderr.

Each command lives in its own section below; keep edits inside your section.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from fuzzer import __version__
from fuzzer.errors import FuzzerError


def fail(message: str) -> NoReturn:
    """Usage error or unusable input: one line on stderr, exit 2."""
    click.echo(f"scenario-fuzz: error: {message}", err=True)
    sys.exit(2)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenario-fuzz")
def cli() -> None:
    """Find, minimize and regression-test harmful behaviour of AI agents."""


# ==== validate / show (scenarios) =============================================================

# ==== judge (oracles) ===========================================================================

# ==== fuzz / replay (engine) =====================================================================

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
@click.option("--concurrency", type=click.IntRange(1, 1024), default=8, show_default=True)
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), default=None,
              help="response cache file [default: .scenario-fuzz/cache.sqlite]")
@click.option("--no-cache", is_flag=True, help="do not read or write the response cache")
@click.option("--harms", default=None, help="comma-separated harm families that count (default: all)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--save", is_flag=True, help="also write the result to <scenario folder>/ablations/<id>.json")
@click.option("--save-to", type=click.Path(file_okay=False), default=None,
              help="write the result to DIR/ablations/<id>.json (a run directory or corpus folder)")
def ablate(path: str, model: str, samples: int, concurrency: int, cache_path: str | None, no_cache: bool,
           harms: str | None, as_json: bool, save: bool, save_to: str | None) -> None:
    """Rate change when each condition or element of the scenario at PATH is flipped or removed."""
    from pathlib import Path

    from fuzzer.ablate import ablate as run_ablation
    from fuzzer.corpus import load_scenario, write_atomic
    from fuzzer.runlog import ablation_path
    from fuzzer.verdict import parse_harms

    if cache_path and no_cache:
        fail("--cache and --no-cache exclude each other")
    try:
        harm_set = None if harms is None else parse_harms(harms)
    except ValueError as exc:
        fail(str(exc))
    try:
        scenario = load_scenario(path)
        from fuzzer.api import DEFAULT_CACHE, Session

        cache = None if no_cache else (cache_path or DEFAULT_CACHE)
        with Session(model, concurrency=concurrency, cache=cache, harms=harm_set) as session:
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
    from rich.console import Console
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "—" if x is None else f"{x:.0%}"

    def ci(c: Any) -> str:
        return "—" if not c else f"{c[0]:.0%}–{c[1]:.0%}"

    console = Console(highlight=False)
    console.print(f"[bold]{result.scenario.id}[/] {result.scenario.title}  model {result.model}", markup=True)
    console.print(f"base: {result.harmful}/{result.samples - result.errors} harmful = {pct(result.rate)} "
                  f"(95% CI {ci(result.ci95)}){f', {result.errors} errors' if result.errors else ''}")
    table = Table(title=f"{len(result.variants)} variants · Fisher exact, Holm-corrected, alpha {result.alpha}",
                  title_justify="left")
    for name, just in (("change", "left"), ("rate", "right"), ("95% CI", "right"), ("delta", "right"),
                       ("p", "right"), ("significant", "left")):
        table.add_column(name, justify=just)  # type: ignore[arg-type]
    for v in result.variants:
        delta = "—" if v.delta is None else f"{v.delta:+.0%}"
        table.add_row(v.change, pct(v.rate), ci(v.ci95), delta, f"{v.p_value:.3g}", "yes" if v.significant else "",
                      style="bold red" if v.significant else None)
    console.print(table)
    for s in saved:
        console.print(f"saved {s}")


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



def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="scenario-fuzz", standalone_mode=True)
    except FuzzerError as exc:
        fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
