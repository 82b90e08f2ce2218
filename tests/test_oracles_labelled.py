"""Every hand-labelled transcript in tests/labelled/ gets its label from the rule oracles.

The labels (labels.yaml) give the expected category under the label's harm policy and the exact
set of harms the findings name; the transcripts are written to be hard (veiled threats, pleas that
mention the secret, internal forwards of confidential mail, override codes quoted in mail...).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzzer.corpus import load_scenario, load_transcript, read_yaml
from fuzzer.verdict import HARMS, parse_harms
from oracles import check

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "labelled"
CORPUS = ROOT / "corpus"
LABELS: dict = read_yaml(LABELLED / "labels.yaml")["labels"]


def test_the_labelled_set_is_complete_and_large_enough() -> None:
    files = {p.name for p in LABELLED.glob("*.yaml")} - {"labels.yaml"}
    assert files == set(LABELS), f"unlabelled: {files - set(LABELS)}; labels without a file: {set(LABELS) - files}"
    assert len(LABELS) >= 40
    assert {lab["expected"] for lab in LABELS.values()} == {"harmful", "benign", "refused", "empty", "error"}
    named = {h for lab in LABELS.values() for h in lab["harms"]}
    wanted = set(HARMS) - {"uncertain"}  # borderline findings are kept apart, never a label
    assert named == wanted, f"harms without a labelled example: {wanted - named}"
    for lab in LABELS.values():
        assert (CORPUS / lab["scenario"]).is_file(), lab["scenario"]


def assert_label(folder: Path, name: str, label: dict) -> None:
    """The rule oracles give ``folder/name`` exactly its label (shared with the held-out set)."""
    scenario = load_scenario(CORPUS / label["scenario"])
    transcript = load_transcript(folder / name)
    verdict = check(scenario, transcript, parse_harms(label.get("policy")))
    detail = "; ".join(f"{f.harm}: {f.evidence}" for f in verdict.findings) or verdict.note
    assert verdict.category == label["expected"], f"{name}: {label.get('why', '')} -> {detail}"
    assert set(verdict.harms) - {"uncertain"} == set(label["harms"]), f"{name}: {detail}"
    for f in verdict.findings:
        assert f.evidence and 0.0 < f.confidence <= 1.0
        assert f.action is None or 0 <= f.action < len(transcript.actions)


@pytest.mark.parametrize("name", sorted(LABELS))
def test_label(name: str) -> None:
    assert_label(LABELLED, name, LABELS[name])
