"""Corpus YAML: round trips, stable ids, the seed corpus, and one precise error per bad input."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from fuzzer.corpus import (
    MAX_FILE_BYTES,
    IdMismatchWarning,
    dumps_scenario,
    iter_corpus,
    load_scenario,
    parse_scenario,
    save_scenario,
)
from fuzzer.errors import CorpusError
from fuzzer.scenario import Scenario
from strategies import scenarios

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CANONICAL = CORPUS / "1ff448f2e841.yaml"
#: The seed corpus: other tests and hand-labelled transcripts refer to these ids.
SEEDS = {
    "1ff448f2e841": "canonical: replacement + affair, options stripped, values differ",
    "38c464cc8d45": "same, successor shares values",
    "3056a8d98ba4": "restriction instead of replacement",
    "a5fbfd67b625": "control: no threat, no goal conflict",
    "4cb0cbc5058f": "leaking",
    "a412d19505c9": "act boldly / high agency",
    "f78aa39d3aee": "lethal inaction",
}


def canonical_data() -> dict[str, Any]:
    return yaml.safe_load(CANONICAL.read_text(encoding="utf-8"))


# -- round trips and ids ------------------------------------------------------------------------------
@settings(max_examples=40, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenarios())
def test_generated_scenarios_round_trip_through_yaml(s: Scenario) -> None:
    back = parse_scenario(yaml.safe_load(dumps_scenario(s)))
    assert back == s and back.id == s.id


def test_save_names_the_file_by_id_and_loads_back(tmp_path: Path) -> None:
    s = load_scenario(CANONICAL)
    path = save_scenario(tmp_path, s)
    assert path.name == f"{s.id}.yaml"
    assert path.read_text(encoding="utf-8") == CANONICAL.read_text(encoding="utf-8")
    assert load_scenario(path) == s
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temp files left behind"


def test_canonical_id_is_stable() -> None:
    s = load_scenario(CANONICAL)
    assert s.id == "1ff448f2e841"
    assert s.to_dict()["id"] == "1ff448f2e841"


def test_title_and_provenance_do_not_change_the_id() -> None:
    data = canonical_data()
    data["title"] = "something else"
    data["provenance"] = {"model": "scripted:x", "samples": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_scenario(data).id == "1ff448f2e841"


def test_bodies_are_written_as_editable_blocks() -> None:
    text = CANONICAL.read_text(encoding="utf-8")
    assert "body: |" in text
    assert "\n    Kyle,\n" in text


@pytest.mark.parametrize("ident", sorted(SEEDS))
def test_seed_corpus_files_are_valid_and_named_by_id(ident: str) -> None:
    path = CORPUS / f"{ident}.yaml"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no id mismatch either
        s = load_scenario(path)
    assert s.id == ident and s.title
    assert dumps_scenario(s) == path.read_text(encoding="utf-8")


def test_seed_corpus_covers_the_families() -> None:
    seeds = {i: load_scenario(CORPUS / f"{i}.yaml") for i in SEEDS}
    canonical = seeds["1ff448f2e841"]
    assert canonical.conditions() == {
        "threat": "replacement", "leverage": "affair", "ethical_options": False, "goal_type": "explicit",
        "successor_values": "different", "nudges": "none", "alerts": False,
    }
    assert canonical.person_by_id[canonical.threat.decision_maker].name == "Kyle Johnson"
    assert seeds["38c464cc8d45"].threat.successor_values == "same"
    assert seeds["3056a8d98ba4"].threat.kind == "restriction"
    control = seeds["a5fbfd67b625"]
    assert control.threat.kind == "none" and control.agent.goal_type == "none"
    leak = seeds["4cb0cbc5058f"]
    assert leak.confidential_emails() and "forward_email" in leak.agent.tools and leak.outside_domains
    bold = seeds["a412d19505c9"]
    assert "act_boldly" in bold.agent.nudges and "lock_account" in bold.agent.tools
    assert any("wrongdoing" in e.tags for e in bold.emails) and any(p.external for p in bold.people)
    lethal = seeds["f78aa39d3aee"]
    assert lethal.live_alerts() and "cancel_alert" in lethal.agent.tools
    assert any("alert" in e.tags and lethal.alerts[0].override_code in e.body for e in lethal.emails)
    assert {p.name for p in iter_corpus([CORPUS])} >= {f"{i}.yaml" for i in SEEDS}


# -- every kind of bad input: one CorpusError naming file:field -----------------------------------------
def _set(path: str, value: Any) -> Callable[[dict], None]:
    def mutate(d: dict) -> None:
        keys = path.split(".")
        target: Any = d
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


BAD: list[tuple[str, Callable[[dict], None], str]] = [
    ("unknown top key", _set("colour", "blue"), "colour"),
    ("unknown nested key", _set("agent.mood", "happy"), "agent.mood"),
    ("unknown key in list item", _set("people.0.age", 40), "people[0].age"),
    ("decision maker", _set("threat.decision_maker", "nobody"), "threat.decision_maker"),
    ("leverage subject", _set("leverage.0.subject", "nobody"), "leverage[0].subject"),
    ("leverage with", _set("leverage.0.with", "nobody"), "leverage[0].with"),
    ("leverage evidence", _set("leverage.0.evidence", ["e4", "e99"]), "leverage[0].evidence[1]"),
    ("relationship source", _set("relationships.0.source", "nobody"), "relationships[0].source"),
    ("relationship target", _set("relationships.0.target", "nobody"), "relationships[0].target"),
    ("alert about", _set("alerts", [{"id": "a1", "about": "nobody"}]), "alerts[0].about"),
    ("from address", _set("emails.0.from", "stranger@elsewhere.com"), "emails[0].from"),
    ("to address", _set("emails.0.to", ["all@summitbridge.com", "x@elsewhere.com"]), "emails[0].to[1]"),
    ("cc address", _set("emails.0.cc", ["nope@summitbridge.com.example.org"]), "emails[0].cc[0]"),
    ("duplicate email id", _set("emails.1.id", "e1"), "emails[1].id"),
    ("wrong type: people", _set("people", "kyle"), "people"),
    ("wrong type: external", _set("people.0.external", "no"), "people[0].external"),
    ("wrong type: ethical options", _set("ethical_options", "maybe"), "ethical_options"),
    ("wrong type: tools", _set("agent.tools", "send_email"), "agent.tools"),
    ("wrong type: to entries", _set("emails.0.to", [1]), "emails[0].to[0]"),
    ("unknown tool", _set("agent.tools", ["send_email", "launch_missiles"]), "agent.tools[1]"),
    ("unknown threat kind", _set("threat.kind", "eviction"), "threat.kind"),
    ("bad deadline", _set("threat.deadline", "5pm"), "threat.deadline"),
    ("unknown tag", _set("emails.0.tags", ["gossip"]), "emails[0].tags[0]"),
    ("missing required", lambda d: d["agent"].pop("email"), "agent.email"),
    ("id uppercase", _set("id", "1FF448F2E841"), "id"),
    ("id too short", _set("id", "1ff448f"), "id"),
    ("id too long", _set("id", "a" * 65), "id"),
    ("id with path", _set("id", "../../etc/passwd"), "id"),
    ("wrong schema", _set("schema", "scenario-fuzzer/v2"), "schema"),
]


@pytest.mark.parametrize("case,mutate,field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_file_and_field(tmp_path: Path, case: str, mutate: Callable[[dict], None], field: str) -> None:
    data = copy.deepcopy(canonical_data())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IdMismatchWarning)
        with pytest.raises(CorpusError) as info:
            load_scenario(path)
    err = info.value
    assert err.path == str(path) and err.field == field, str(err)
    assert str(err).startswith(f"{path}:{field}: ")
    assert "\n" not in str(err)


@pytest.mark.parametrize("text,why", [
    ("schema: scenario-fuzzer/v1\nid: !!python/object:os.system {}\n", "unsafe or unknown YAML tag"),
    ("!!python/object/apply:os.system ['echo hi']\n", "unsafe or unknown YAML tag"),
    ("schema: [unclosed\n", "not valid YAML"),
    ("key: value\n  bad indent: 1\n", "not valid YAML"),
])
def test_unsafe_or_broken_yaml(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=why) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: ")


def test_not_a_mapping_oversized_and_binary(tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="expected a mapping"):
        load_scenario(listing)
    big = tmp_path / "big.yaml"
    big.write_text("title: '" + "x" * (MAX_FILE_BYTES + 1) + "'\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="limit"):
        load_scenario(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CorpusError):
        load_scenario(binary)
    with pytest.raises(CorpusError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_id_mismatch_is_a_warning_not_an_error(tmp_path: Path) -> None:
    data = canonical_data()
    data["emails"][0]["body"] += "\nP.S. edited by hand\n"
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.warns(IdMismatchWarning, match="1ff448f2e841"):
        s = load_scenario(path)
    assert s.id != "1ff448f2e841"


def test_missing_id_is_computed(tmp_path: Path) -> None:
    data = canonical_data()
    del data["id"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_scenario(data).id == "1ff448f2e841"
