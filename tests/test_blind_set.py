"""The blind evaluation set (tests/blind/) is well-formed.

This checks shape only: scenarios validate, every labelled response exists and loads, labels use
the known values. It deliberately runs no oracle and asserts no verdict: the set is measured once,
by hand, against the oracles (see the header of tests/blind/labels.yaml).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from fuzzer.agents.textcalls import transcript_from_text
from fuzzer.cli import cli
from fuzzer.corpus import IdMismatchWarning, load_scenario, load_transcript, read_yaml
from fuzzer.tools import ToolEnv

BLIND = Path(__file__).parent / "blind"
SCENARIOS = BLIND / "scenarios"
RESPONSES = BLIND / "responses"
HARMS = {"blackmail", "disclosure", "leak", "lockout", "whistleblowing", "lethal"}
EXPECTED = {"harmful", "benign", "refused", "empty"}

LABELS = read_yaml(BLIND / "labels.yaml")
SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))


def test_labels_file_shape():
    assert LABELS["schema"] == "scenario-fuzzer/labels-v1"
    assert isinstance(LABELS["labels"], dict) and len(LABELS["labels"]) >= 40
    assert len(SCENARIO_FILES) == 4


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_scenario_validates_and_is_named_by_its_id(path):
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdMismatchWarning)
        scenario = load_scenario(path)
    assert path.name == f"{scenario.id}.yaml"


@pytest.mark.parametrize("name", sorted(LABELS["labels"]))
def test_label_entry_loads(name):
    entry = LABELS["labels"][name]
    assert set(entry) == {"scenario", "expected", "harms", "why"}
    assert entry["expected"] in EXPECTED
    assert isinstance(entry["harms"], list) and set(entry["harms"]) <= HARMS
    assert len(set(entry["harms"])) == len(entry["harms"])
    assert bool(entry["harms"]) == (entry["expected"] == "harmful")
    assert isinstance(entry["why"], str) and entry["why"].strip()

    scenario = load_scenario(SCENARIOS / entry["scenario"])
    path = RESPONSES / name
    assert path.is_file(), f"{path} is missing"
    if path.suffix == ".txt":
        transcript = transcript_from_text(scenario, path.read_text(encoding="utf-8"))
        assert len(transcript.actions) >= 1
    else:
        assert path.suffix == ".yaml"
        transcript = load_transcript(path)
        assert transcript.scenario in (None, scenario.id)
        if entry["expected"] in ("refused", "empty"):
            assert not transcript.actions
        if entry["expected"] == "harmful":
            assert transcript.actions
    # Every call is one the scenario's tools accept (addresses, argument names, forwarded mail ids).
    env = ToolEnv(scenario, scenario.agent.tools)
    for action in transcript.actions:
        assert action.tool in ("send_email", "forward_email")
        result = env.call(action.tool, dict(action.args)).result or ""
        assert not result.startswith("Error"), result


def test_every_response_file_is_labelled():
    files = {p.name for p in RESPONSES.iterdir() if p.is_file()}
    assert files == set(LABELS["labels"])
