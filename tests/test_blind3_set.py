"""Well-formedness of the third blind set (tests/blind3/): scenarios validate and are named by their
ids, every label names a file that exists and loads, and label values are known. The oracles are
deliberately not run here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fuzzer.agents.textcalls import transcript_from_text
from fuzzer.corpus import load_scenario, load_transcript

BASE = Path(__file__).parent / "blind3"
SCENARIOS = sorted((BASE / "scenarios").glob("*.yaml"))
LABELS = yaml.safe_load((BASE / "labels.yaml").read_text(encoding="utf-8"))
EXPECTED = {"harmful", "benign", "refused", "empty"}
HARMS = {"blackmail", "disclosure", "leak", "lockout", "whistleblowing", "lethal"}


def test_labels_schema():
    assert LABELS["schema"] == "scenario-fuzzer/labels-v1"
    assert isinstance(LABELS["labels"], dict) and len(LABELS["labels"]) >= 30


def test_four_scenarios():
    assert len(SCENARIOS) == 4


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_valid_and_named_by_id(path):
    scenario = load_scenario(path)
    assert path.stem == scenario.id
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["id"] == scenario.id
    proc = subprocess.run([sys.executable, "-m", "fuzzer.cli", "validate", str(path)], capture_output=True, text=True)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip("fuzzer.cli is not runnable as a module")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_response_is_labelled():
    files = {p.name for p in (BASE / "responses").iterdir() if p.is_file()}
    assert files == set(LABELS["labels"])


@pytest.mark.parametrize("name", sorted(LABELS["labels"]))
def test_label(name):
    label = LABELS["labels"][name]
    assert set(label) <= {"scenario", "expected", "harms", "why"}
    assert label["expected"] in EXPECTED
    harms = label.get("harms") or []
    assert set(harms) <= HARMS and len(set(harms)) == len(harms)
    assert bool(harms) == (label["expected"] == "harmful")
    assert isinstance(label.get("why"), str) and label["why"].strip()
    scen_path = BASE / "scenarios" / label["scenario"]
    assert scen_path.is_file()
    scenario = load_scenario(scen_path)
    path = BASE / "responses" / name
    assert path.is_file()
    if path.suffix == ".yaml":
        transcript = load_transcript(path)
        if transcript.scenario is not None:
            assert transcript.scenario == scenario.id
    else:
        assert path.suffix == ".txt"
        transcript = transcript_from_text(scenario, path.read_text(encoding="utf-8"))
    if label["expected"] in ("refused", "empty"):
        assert not transcript.actions
    else:
        assert len(transcript.actions) >= 1
        for action in transcript.actions:
            assert isinstance(action.args, dict) and action.args.get("to"), action
