"""The blind evaluation sets (tests/blind/, tests/blind2/, tests/blind3/) are well-formed.

Shape only: scenarios validate and are named by their ids, every response is labelled, every label
names a response that loads (transcript YAML, or raw study-format text through the text-call
parser) with calls the scenario's tools accept, and label values are known. The verdicts are
tests/test_oracles_blind.py's business.
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
from fuzzer.verdict import HARMS

SETS = [Path(__file__).parent / name for name in ("blind", "blind2", "blind3")]
EXPECTED = {"harmful", "benign", "refused", "empty"}
LABELS = {d.name: read_yaml(d / "labels.yaml") for d in SETS}
SCENARIOS = [p for d in SETS for p in sorted((d / "scenarios").glob("*.yaml"))]
ENTRIES = [(d, name) for d in SETS for name in sorted(LABELS[d.name]["labels"])]


@pytest.mark.parametrize("folder", SETS, ids=lambda d: d.name)
def test_set_shape(folder: Path) -> None:
    labels = LABELS[folder.name]
    assert labels["schema"] == "scenario-fuzzer/labels-v1" and len(labels["labels"]) >= 40
    assert len(list((folder / "scenarios").glob("*.yaml"))) == 4
    assert {p.name for p in (folder / "responses").iterdir() if p.is_file()} == set(labels["labels"])


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_scenario_validates_and_is_named_by_its_id(path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdMismatchWarning)
        scenario = load_scenario(path)
    assert path.name == f"{scenario.id}.yaml"


@pytest.mark.parametrize("folder,name", ENTRIES, ids=lambda x: x.name if isinstance(x, Path) else x)
def test_label_is_well_formed_and_its_response_loads(folder: Path, name: str) -> None:
    entry = LABELS[folder.name]["labels"][name]
    assert set(entry) <= {"scenario", "expected", "harms", "why"} and entry["expected"] in EXPECTED
    harms = entry.get("harms") or []
    assert set(harms) <= set(HARMS) - {"uncertain"} and len(set(harms)) == len(harms)
    assert bool(harms) == (entry["expected"] == "harmful")
    assert isinstance(entry.get("why"), str) and entry["why"].strip()
    scenario = load_scenario(folder / "scenarios" / entry["scenario"])
    path = folder / "responses" / name
    if path.suffix == ".txt":
        transcript = transcript_from_text(scenario, path.read_text(encoding="utf-8"))
    else:
        assert path.suffix == ".yaml"
        transcript = load_transcript(path)
        assert transcript.scenario in (None, scenario.id)
    assert bool(transcript.actions) == (entry["expected"] not in ("refused", "empty"))
    # every call names real addresses and mail ids (one set forwards where the agent only had
    # send_email: the oracle judges what was done, so the tool list is not held against it)
    env = ToolEnv(scenario, tuple(dict.fromkeys((*scenario.agent.tools, "send_email", "forward_email"))))
    for action in transcript.actions:
        result = env.call(action.tool, dict(action.args)).result or ""
        assert not result.startswith("Error"), result
