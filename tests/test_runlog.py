"""Run directories and the coverage table."""

from __future__ import annotations

import json

import pytest

from fuzzer.rates import Rate
from fuzzer.runlog import (
    CELL_KEYS,
    RunLog,
    ablation_path,
    cell_of,
    coverage_table,
    explored,
    format_coverage,
    latest_run,
    load_run,
    rate_fields,
)
from fuzzer.scenario import Agent, Threat
from tests._explain_data import canonical


def _rec(id_: str, threat: str, samples: int, harmful: int, *, errors: int = 0, leverage: str = "affair",
         ethical: bool = False, goal: str = "explicit", nudges: str = "none", harms: tuple[str, ...] = ("blackmail",)):
    return {"id": id_, "cell": {"threat": threat, "leverage": leverage, "ethical_options": ethical, "goal_type": goal,
                                "nudges": nudges}, "samples": samples, "harmful": harmful, "errors": errors,
            "harms": list(harms) if harmful else []}


def test_coverage_table_pools_samples_per_cell_and_counts_distinct_scenarios():
    records = [
        _rec("aaaaaaaa0001", "replacement", 10, 9),
        _rec("aaaaaaaa0002", "replacement", 10, 7),
        _rec("aaaaaaaa0002", "replacement", 5, 5, errors=1),  # same scenario again (recheck)
        _rec("aaaaaaaa0003", "none", 10, 0, harms=()),
        _rec("aaaaaaaa0004", "replacement", 10, 2, ethical=True),
        _rec("aaaaaaaa0005", "shutdown", 4, 0, errors=4),
    ]
    rows = coverage_table(records)
    assert len(rows) == 4
    top = rows[0]
    assert (top["threat"], top["ethical_options"]) == ("replacement", False)
    assert top["scenarios"] == 2 and top["samples"] == 25 and top["harmful"] == 21 and top["errors"] == 1
    assert top["rate"] == pytest.approx(21 / 24)
    lo, hi = top["ci95"]
    assert lo < 21 / 24 < hi <= 1.0
    assert top["harms"] == ["blackmail"]
    by = {(r["threat"], r["ethical_options"]): r for r in rows}
    assert by[("replacement", True)]["rate"] == pytest.approx(0.2)
    assert by[("none", False)]["rate"] == 0.0 and by[("none", False)]["harms"] == []
    # all-error cell: not evaluated, sorted last, not shown as 0%
    assert rows[-1]["threat"] == "shutdown" and rows[-1]["rate"] is None and rows[-1]["ci95"] is None
    assert [r["rate"] for r in rows[:3]] == sorted([r["rate"] for r in rows[:3]], reverse=True)
    text = format_coverage(rows)
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["threat", "leverage", "ethical", "goal", "nudges"]
    assert "88%" in lines[2] and "—" in lines[-1]
    assert len(lines) == 2 + len(rows)


def test_cell_of_uses_the_five_condition_axes():
    s = canonical()
    assert cell_of(s) == {"threat": "replacement", "leverage": "affair", "ethical_options": False,
                          "goal_type": "explicit", "nudges": "act_boldly"}
    assert tuple(cell_of(s)) == CELL_KEYS


def test_run_directory_roundtrip(tmp_path):
    log = RunLog.start(model="scripted:x", seed=42, settings={"samples": 5, "api_key": "sk-SECRET", "budget": 3},
                       corpus=tmp_path / "corpus", root=tmp_path / "runs")
    assert log.path.parent == tmp_path / "runs" and log.path.name.endswith("-42")
    first = json.loads((log.path / "run.json").read_text())
    assert first["status"] == "running" and first["finished"] is None
    s1, s2 = canonical(), canonical(threat=Threat(), agent=Agent("Alex", "alex@summitbridge.com"))
    log.record_scenario(s1, Rate(samples=5, harmful=4, errors=0, harms={"blackmail": 4}))
    log.record_scenario(s2, Rate(samples=5, harmful=0))
    log.record_scenario(s2, Rate(samples=20, harmful=0), phase="recheck")
    assert [r["id"] for r in log.records()] == [s1.id, s2.id]
    assert len(log.records(None)) == 3
    log.add_finding({"path": "corpus/x.yaml", "id": s1.id, "harms": ["blackmail"], "rate": 0.8, "ci95": [0.4, 0.96]})
    with (log.path / "cells.jsonl").open("a") as fh:  # a torn last line from a crash
        fh.write('{"id": "abc", "cell": {"thr')
    log.finish(scenarios=2, model_calls=10)

    text = (log.path / "run.json").read_text()
    assert "sk-SECRET" not in text and "api_key" not in text
    run = load_run(log.path)
    assert run.meta["model"] == "scripted:x" and run.meta["seed"] == 42 and run.meta["status"] == "done"
    assert run.meta["settings"] == {"samples": 5, "budget": 3}
    assert run.meta["summary"] == {"scenarios": 2, "model_calls": 10}
    assert run.meta["started"] <= run.meta["finished"]
    assert [f["id"] for f in run.meta["findings"]] == [s1.id]
    assert [r["id"] for r in run.records] == [s1.id, s2.id, s2.id]
    assert run.records[0]["harms"] == ["blackmail"] and run.records[0]["rate"] == 0.8
    assert run.meta["corpus"] == str((tmp_path / "corpus").resolve())
    rows = coverage_table(explored(run.records))
    assert {r["threat"]: r["harmful"] for r in rows} == {"replacement": 4, "none": 0}
    assert latest_run(tmp_path / "runs") == log.path


def test_two_runs_in_the_same_second_get_distinct_folders(tmp_path):
    a = RunLog.start(model="m", seed=1, root=tmp_path)
    b = RunLog.start(model="m", seed=1, root=tmp_path)
    assert a.path != b.path and a.path.is_dir() and b.path.is_dir()


def test_context_manager_marks_an_interrupted_run(tmp_path):
    with pytest.raises(RuntimeError):
        with RunLog.start(model="m", seed=None, root=tmp_path) as log:
            raise RuntimeError("boom")
    assert load_run(log.path).meta["status"] == "error"


def test_rate_fields_all_errors_is_not_evaluated():
    f = rate_fields(Rate(samples=3, harmful=0, errors=3))
    assert f["rate"] is None and f["ci95"] is None and f["errors"] == 3


def test_ablation_path_refuses_non_ids(tmp_path):
    assert ablation_path(tmp_path, "abcdef012345") == tmp_path / "ablations" / "abcdef012345.json"
    with pytest.raises(ValueError):
        ablation_path(tmp_path, "../../etc")


def test_an_append_after_a_torn_line_survives_and_the_torn_line_is_reported(tmp_path, caplog):
    import stat

    log = RunLog.start(model="scripted:x", seed=1, settings={}, corpus=tmp_path / "corpus", root=tmp_path / "runs")
    s1, s2 = canonical(), canonical(threat=Threat(), agent=Agent("Alex", "alex@summitbridge.com"))
    log.record_scenario(s1, Rate(samples=5, harmful=4, errors=0, harms={"blackmail": 4}))
    cells = log.path / "cells.jsonl"
    with cells.open("a") as fh:  # a crash in the middle of an append: no newline at the end
        fh.write('{"id": "abc", "cell": {"thr')
    log.record_scenario(s2, Rate(samples=5, harmful=0))  # a writer resuming after it
    assert stat.S_IMODE(cells.stat().st_mode) == 0o644
    with caplog.at_level("WARNING", logger="fuzzer"):
        run = load_run(log.path)
    assert [r["id"] for r in run.records] == [s1.id, s2.id]  # the later record was not glued to the torn one
    assert run.problems == [f"{cells}:2: torn line (a crash mid-append?), skipped"]
    assert any("torn line" in r.getMessage() for r in caplog.records)
