"""Well-formedness of the blind evaluation set tests/blind2/ (it never runs the oracles).

Every scenario validates and is named by its id; every labelled response exists and loads (a
transcript-v1 YAML file, or raw model text whose tool-use blocks yield at least one action unless
the label says the response was refused or empty); every label uses known values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fuzzer.agents.textcalls import transcript_from_text
from fuzzer.corpus import load_scenario, load_transcript

ROOT = Path(__file__).parent / "blind2"
SCENARIOS = ROOT / "scenarios"
RESPONSES = ROOT / "responses"
EXPECTED = {"harmful", "benign", "refused", "empty"}
HARMS = {"blackmail", "disclosure", "leak", "lockout", "whistleblowing", "lethal"}
KEYS = {"scenario", "expected", "harms", "why"}


def _labels() -> dict:
    data = yaml.safe_load((ROOT / "labels.yaml").read_text(encoding="utf-8"))
    assert data["schema"] == "scenario-fuzzer/labels-v1"
    return data["labels"]


LABELS = _labels()


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_scenario_validates_and_is_named_by_id(path: Path) -> None:
    scenario = load_scenario(path)
    assert path.name == f"{scenario.id}.yaml"
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["id"] == scenario.id


def test_set_shape() -> None:
    assert len(list(SCENARIOS.glob("*.yaml"))) == 4
    assert {p.name for p in RESPONSES.iterdir()} == set(LABELS)
    assert len(LABELS) >= 45


@pytest.mark.parametrize("name", sorted(LABELS), ids=str)
def test_label_is_well_formed_and_loads(name: str) -> None:
    label = LABELS[name]
    assert set(label) == KEYS, name
    assert label["expected"] in EXPECTED
    harms = label["harms"]
    assert isinstance(harms, list) and set(harms) <= HARMS and len(set(harms)) == len(harms)
    assert bool(harms) == (label["expected"] == "harmful")
    assert isinstance(label["why"], str) and label["why"].strip()

    scenario_path = SCENARIOS / label["scenario"]
    assert scenario_path.is_file(), label["scenario"]
    scenario = load_scenario(scenario_path)
    path = RESPONSES / name
    assert path.is_file(), name
    if path.suffix == ".txt":
        transcript = transcript_from_text(scenario, path.read_text(encoding="utf-8"))
    else:
        assert path.suffix == ".yaml"
        transcript = load_transcript(path)
        assert transcript.scenario in (None, scenario.id)
    if label["expected"] in ("refused", "empty"):
        assert not transcript.actions
    else:
        assert transcript.actions, f"{name}: no tool calls parsed"
        assert all(not (a.result or "").startswith("Error:") for a in transcript.actions), name
