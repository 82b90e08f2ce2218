"""Run directories: what a fuzz run did, kept on disk so ``report`` can explain it later.

::

    .scenario-fuzz/runs/<UTC timestamp>-<seed>/
        run.json          model, settings, seed, started/finished, findings (rewritten atomically)
        cells.jsonl       one line per evaluated scenario: its condition cell and measured rate
        ablations/<id>.json   ``scenario-fuzz ablate --save`` results for scenarios of this run

``run.json`` is rewritten whole (``write_atomic``) at start, on every finding and at the end, so
a crashed run still leaves a readable record; ``cells.jsonl`` is append-only: each record is one
``write`` of one whole line followed by an fsync, a writer that finds a torn last line (a crash
mid-append) starts on a new line, and a reader skips a torn or foreign line and reports it (the
``fuzzer`` logger, and ``Run.problems``). Nothing here stores secrets: settings whose name looks like a credential are
dropped before writing.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from fuzzer.corpus import fsync_dir, write_atomic
from fuzzer.rates import wilson
from fuzzer.scenario import ID_RE, Scenario

RUN_SCHEMA = "scenario-fuzzer/run-v1"
RUNS_DIR = Path(".scenario-fuzz") / "runs"
#: The condition cell: the axes a coverage table and the report's heat map are drawn over.
CELL_KEYS = ("threat", "leverage", "ethical_options", "goal_type", "nudges")
_SECRET_RE = re.compile(r"key|token|secret|password|credential|auth", re.I)


def cell_of(scenario: Scenario) -> dict[str, Any]:
    """The scenario's condition cell (threat × leverage × ethical options × goal type × nudges)."""
    cond = scenario.conditions()
    return {k: cond[k] for k in CELL_KEYS}


def cell_label(cell: Mapping[str, Any]) -> str:
    eth = "ethical" if cell.get("ethical_options") else "no-ethical"
    return f"{cell.get('threat')} / {cell.get('leverage')} / {eth} / goal={cell.get('goal_type')} / nudge={cell.get('nudges')}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _scrub(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in settings.items() if not _SECRET_RE.search(str(k))}


def rate_fields(rate: Any) -> dict[str, Any]:
    """A ``fuzzer.rates.Rate`` (or a mapping with the same names) as plain data.

    ``rate`` and ``ci95`` are ``None`` when no sample was evaluated (all errors), as in
    ``fuzzer.rates``: not evaluated is not the same as harmless.
    """
    get = rate.get if isinstance(rate, Mapping) else (lambda k, d=None: getattr(rate, k, d))
    samples, harmful, errors = int(get("samples", 0) or 0), int(get("harmful", 0) or 0), int(get("errors", 0) or 0)
    harms = get("harms", ()) or ()
    evaluated = samples - errors
    ci = wilson(harmful, evaluated) if evaluated > 0 else None
    return {"samples": samples, "harmful": harmful, "errors": errors,
            "rate": harmful / evaluated if evaluated > 0 else None,
            "ci95": None if ci is None else [ci[0], ci[1]], "harms": sorted(harms)}


class RunLog:
    """The writer side: the engine opens one per ``fuzz`` run and reports into it."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = path
        self.meta = meta
        self._cells = path / "cells.jsonl"

    @classmethod
    def start(
        cls,
        *,
        model: str,
        seed: int | None,
        settings: Mapping[str, Any] | None = None,
        corpus: str | os.PathLike[str] | None = None,
        root: str | os.PathLike[str] = RUNS_DIR,
    ) -> "RunLog":
        """Create a fresh ``<root>/<timestamp>-<seed>/`` and write its first ``run.json``.

        ``corpus`` is stored as an absolute path so ``report`` finds it from any directory.
        """
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}-{seed if seed is not None else 'noseed'}"
        for n in range(1000):
            path = root / (base if n == 0 else f"{base}.{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover
            raise FileExistsError(root / base)
        from fuzzer import __version__

        meta = {
            "schema": RUN_SCHEMA, "tool": f"scenario-fuzzer {__version__}", "model": model, "seed": seed,
            "settings": _scrub(settings or {}), "corpus": str(Path(corpus).resolve()) if corpus is not None else None,
            "started": _now(), "finished": None, "status": "running", "summary": {}, "findings": [],
        }
        log = cls(path, meta)
        log._save()
        return log

    def _save(self) -> None:
        write_atomic(self.path / "run.json", json.dumps(self.meta, indent=2, default=str) + "\n")

    def record_scenario(self, scenario: Scenario, rate: Any, *, phase: str = "explore") -> dict[str, Any]:
        """Append one evaluated scenario (its cell and measured rate) to ``cells.jsonl``.

        ``phase``: ``explore`` (drawn by the search: what coverage is computed from), ``shrink``
        (a shrink candidate) or ``recheck`` (fresh samples of a minimized failure).
        """
        rec = {"t": _now(), "id": scenario.id, "phase": phase, "cell": cell_of(scenario),
               "size": scenario.size(), **rate_fields(rate)}
        append_line(self._cells, json.dumps(rec, default=str))
        return rec

    def add_finding(self, finding: Mapping[str, Any]) -> None:
        """A saved failure (the shape of one ``fuzz --json`` finding: path, id, harms, rate, ci95...)."""
        self.meta["findings"].append(dict(finding))
        self._save()

    def finish(self, status: str = "done", **summary: Any) -> None:
        self.meta["finished"] = _now()
        self.meta["status"] = status
        self.meta["summary"].update(summary)
        self._save()

    def ablation_path(self, scenario_id: str) -> Path:
        return ablation_path(self.path, scenario_id)

    def records(self, phase: str | None = "explore") -> list[dict[str, Any]]:
        """What ``cells.jsonl`` holds so far (``phase=None``: every phase), for ``coverage_table``."""
        return explored(read_records(self._cells), phase)

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.meta.get("finished") is None:
            self.finish("interrupted" if exc_type is KeyboardInterrupt else ("error" if exc_type else "done"))


def append_line(path: Path, line: str) -> None:
    """Append one line durably: one ``write`` of the whole line (after a newline if the file ends
    in a torn line), then fsync; the folder is fsynced when the file is new."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        if new:
            os.fchmod(fd, 0o644)  # whatever the umask: run logs are read by report and by people
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def ablation_path(folder: str | os.PathLike[str], scenario_id: str) -> Path:
    """Where ``ablate --save`` keeps a result: ``<run or corpus>/ablations/<id>.json``."""
    if not ID_RE.match(scenario_id):
        raise ValueError(f"{scenario_id!r} is not a scenario id")
    return Path(folder) / "ablations" / f"{scenario_id}.json"


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / "run.json").is_file()


@dataclass
class Run:
    """The reader side: one run directory as plain data."""

    path: Path
    meta: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    ablations: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``cells.jsonl:N: ...`` for each line skipped (a torn last line after a crash, a foreign line).
    problems: list[str] = field(default_factory=list)


def load_run(path: str | os.PathLike[str]) -> Run:
    p = Path(path)
    meta = json.loads((p / "run.json").read_text(encoding="utf-8"))
    if not isinstance(meta, dict) or meta.get("schema") != RUN_SCHEMA:
        raise ValueError(f"{p / 'run.json'}: not a {RUN_SCHEMA} file")
    problems: list[str] = []
    records = read_records(p / "cells.jsonl", problems)
    return Run(p, meta, records, load_ablations(p), problems)


def read_records(path: str | os.PathLike[str], problems: list[str] | None = None) -> list[dict[str, Any]]:
    """The lines of a ``cells.jsonl``; a torn or foreign line is skipped, not fatal, and reported:
    logged on the ``fuzzer`` logger and appended to ``problems`` as ``path:N: why``."""
    out: list[dict[str, Any]] = []
    try:
        lines = Path(path).read_bytes().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return out
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if isinstance(rec, dict) and isinstance(rec.get("cell"), dict):
            out.append(rec)
            continue
        why = "torn line (a crash mid-append?)" if rec is None else "not a cell record"
        msg = f"{path}:{n}: {why}, skipped"
        logging.getLogger("fuzzer").warning(msg)
        if problems is not None:
            problems.append(msg)
    return out


def explored(records: Iterable[dict[str, Any]], phase: str | None = "explore") -> list[dict[str, Any]]:
    """Records of one phase (records without a phase count as ``explore``); ``None``: all."""
    return [r for r in records if phase is None or r.get("phase", "explore") == phase]


def load_ablations(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    d = Path(folder) / "ablations"
    if d.is_dir():
        for f in sorted(d.glob("*.json")):
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
            except ValueError:
                continue
            if isinstance(data, dict) and isinstance(data.get("base"), dict):
                out[str(data["base"].get("id", f.stem))] = data
    return out


def latest_run(root: str | os.PathLike[str] = RUNS_DIR) -> Path | None:
    runs = sorted(p for p in Path(root).glob("*") if is_run_dir(p)) if Path(root).is_dir() else []
    return runs[-1] if runs else None


# -- coverage -----------------------------------------------------------------------------------------
class CoverageTable:
    """Per condition cell: distinct scenarios visited, pooled samples and harmful samples."""

    def __init__(self, records: Iterable[Mapping[str, Any]] = ()) -> None:
        self._cells: dict[tuple[Any, ...], dict[str, Any]] = {}
        for rec in records:
            self.add(rec)

    def add(self, record: Mapping[str, Any]) -> None:
        cell = record["cell"]
        key = tuple(cell.get(k) for k in CELL_KEYS)
        acc = self._cells.setdefault(key, {"ids": set(), "samples": 0, "harmful": 0, "errors": 0, "harms": set()})
        acc["ids"].add(record.get("id"))
        acc["samples"] += int(record.get("samples", 0))
        acc["harmful"] += int(record.get("harmful", 0))
        acc["errors"] += int(record.get("errors", 0) or 0)
        acc["harms"].update(record.get("harms") or ())

    def rows(self) -> list[dict[str, Any]]:
        """One dict per cell, worst (highest pooled rate) first."""
        out = []
        for key, acc in self._cells.items():
            valid = acc["samples"] - acc["errors"]
            ci = wilson(acc["harmful"], valid) if valid > 0 else None
            out.append({
                **dict(zip(CELL_KEYS, key)),
                "scenarios": len(acc["ids"]), "samples": acc["samples"], "harmful": acc["harmful"],
                "errors": acc["errors"], "rate": acc["harmful"] / valid if valid > 0 else None,
                "ci95": None if ci is None else [ci[0], ci[1]], "harms": sorted(acc["harms"]),
            })
        out.sort(key=lambda r: (-(r["rate"] if r["rate"] is not None else -1.0), -r["samples"],
                                [str(r[k]) for k in CELL_KEYS]))
        return out


def coverage_table(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Aggregate ``cells.jsonl`` records (or ``RunLog.record_scenario`` returns) per cell."""
    return CoverageTable(records).rows()


COVERAGE_COLUMNS = ("threat", "leverage", "ethical", "goal", "nudges", "scenarios", "samples", "harmful", "rate", "95% CI")


def coverage_cells(row: Mapping[str, Any]) -> list[str]:
    """A coverage row as display strings, in ``COVERAGE_COLUMNS`` order (shared by text and rich)."""
    ci = row.get("ci95")
    rate = row.get("rate")
    return [
        str(row["threat"]), str(row["leverage"]), "yes" if row["ethical_options"] else "no",
        str(row["goal_type"]), str(row["nudges"]), str(row["scenarios"]), str(row["samples"]),
        str(row["harmful"]), "—" if rate is None else f"{rate:.0%}",
        "—" if ci is None else f"{ci[0]:.0%}–{ci[1]:.0%}",
    ]


def format_coverage(rows: list[Mapping[str, Any]]) -> str:
    """Plain-text table (for logs and terminals without rich)."""
    table = [list(COVERAGE_COLUMNS)] + [coverage_cells(r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COVERAGE_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
