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


# -- hostile files (a corpus is shared through pull requests; CI runs it) ---------------------------
def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic alias bomb inside ``provenance``: 9 levels of 9 expand to 9**9 strings."""
    lines = ["  l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return CANONICAL.read_text(encoding="utf-8").split("\nprovenance:")[0] + "\nprovenance:\n" + "\n".join(lines) + "\n"


def deep_title(depth: int = 5000) -> str:
    text = CANONICAL.read_text(encoding="utf-8")
    return "\n".join(("title: " + "[" * depth + "x" + "]" * depth) if line.startswith("title:") else line
                     for line in text.splitlines()) + "\n"


HOSTILE = {
    "aliases": (billion_laughs, "provenance.l0", "anchors"),
    "alias": (lambda: CANONICAL.read_text(encoding="utf-8") + "provenance: {model: *m}\n", "provenance.model", "aliases"),
    "anchor": (lambda: CANONICAL.read_text(encoding="utf-8") + "provenance: {model: &m x}\n", "provenance.model", "anchors"),
    "deep": (deep_title, "title", "nested deeper than"),
    "provenance type": (lambda: CANONICAL.read_text(encoding="utf-8") + "provenance: {samples: many}\n",
                        "provenance.samples", "expected int"),
    "provenance nested": (lambda: CANONICAL.read_text(encoding="utf-8") + "provenance: {note: {a: {b: [1]}}}\n",
                          "provenance.note.a", "expected a scalar"),
    "provenance harms": (lambda: CANONICAL.read_text(encoding="utf-8") + "provenance: {harms: [blackmail, [x]]}\n",
                         "provenance.harms[1]", "expected str"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_fail_fast_with_one_file_field_error(tmp_path: Path, case: str) -> None:
    import time

    make, field, why = HOSTILE[case]
    path = tmp_path / "evil.yaml"
    path.write_text(make(), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(CorpusError) as info:
        load_scenario(path)
    assert time.monotonic() - started < 5
    assert info.value.field == field and why in info.value.reason
    assert str(info.value).startswith(f"{path}:{field}: ") and "\n" not in str(info.value)


def test_files_we_write_have_no_anchors_and_load_under_the_strict_loader(tmp_path: Path) -> None:
    s = load_scenario(CANONICAL)
    shared = ["blackmail"]
    prov = {"harms": shared, "transcripts": ["transcripts/a.yaml"], "shrunk_from": {"people": 3, "emails": 2},
            "oracle": {"name": "rules"}, "ci95": [0.5, 0.9], "note": shared}  # one list object in two places
    path = save_scenario(tmp_path, __import__("dataclasses").replace(s, provenance=prov))
    assert "&id" not in path.read_text(encoding="utf-8")
    assert load_scenario(path).provenance == prov


def test_corpus_files_are_0644_and_the_sniffer_finds_sorted_key_files(tmp_path: Path) -> None:
    import stat

    from fuzzer.corpus import sniff

    path = save_scenario(tmp_path, load_scenario(CANONICAL))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    data = yaml.safe_load(CANONICAL.read_text(encoding="utf-8"))
    (tmp_path / "sorted.yaml").write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
    (tmp_path / "flow.yml").write_text(__import__("json").dumps(data), encoding="utf-8")
    (tmp_path / "t.yaml").write_text("schema: scenario-fuzzer/transcript-v1\nfinal_text: |\n  schema: scenario-fuzzer/v1\n",
                                     encoding="utf-8")
    (tmp_path / "other.yaml").write_text("name: x\nnote: 'schema: scenario-fuzzer/v1'\n", encoding="utf-8")
    assert yaml.safe_dump(data, sort_keys=True).index("schema:") > 1000  # after the emails, beyond any head
    assert [sniff(tmp_path / n) for n in ("sorted.yaml", "flow.yml", "t.yaml", "other.yaml")] == [
        "scenario", "scenario", "transcript", None]
    assert sorted(p.name for p in iter_corpus([tmp_path])) == [path.name, "flow.yml", "sorted.yaml"]


def _bounded(runs: list[list[str]], cwd: Path, timeout: float = 90) -> list[Any]:
    """Run commands in children at once, each with a memory cap (1.5 GB address space) and a timeout."""
    import resource
    import subprocess
    import sys
    from types import SimpleNamespace

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))

    procs = [subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, preexec_fn=limit) for args in runs]
    out = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            out.append(SimpleNamespace(returncode=p.returncode, stdout=stdout, stderr=stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return out


def test_hostile_files_through_validate_report_and_pytest_stay_bounded(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, (make, _, _) in HOSTILE.items():
        (corpus / f"{name.replace(' ', '-')}.yaml").write_text(make(), encoding="utf-8")
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    (bomb / "laughs.yaml").write_text(billion_laughs(), encoding="utf-8")
    validate, report, tests = _bounded([
        ["-m", "fuzzer.cli", "validate", "corpus"],
        ["-m", "fuzzer.cli", "report", "bomb", "-o", "r.html"],
        ["-m", "pytest", "corpus", "-q", "-p", "no:cacheprovider"],
    ], tmp_path)

    assert validate.returncode == 1, validate.stderr
    lines = validate.stdout.strip().splitlines()
    assert len(lines) == len(HOSTILE) and "Traceback" not in validate.stdout + validate.stderr
    for name, (_, field, why) in HOSTILE.items():
        assert any(line.startswith(f"corpus/{name.replace(' ', '-')}.yaml:{field}: ") and why in line for line in lines)

    assert report.returncode != 0 and "Traceback" not in report.stderr
    [line] = report.stderr.strip().splitlines()
    assert line.startswith("scenario-fuzz: error: bomb/laughs.yaml:provenance.l0: YAML anchors (&name) are not allowed")

    assert tests.returncode == 1, tests.stdout[-2000:]
    assert f"{len(HOSTILE)} failed" in tests.stdout and "RecursionError" not in tests.stdout
    assert "corpus/aliases.yaml:provenance.l0: YAML anchors" in tests.stdout
    assert "corpus/alias.yaml:provenance.model: YAML aliases" in tests.stdout
    assert "corpus/deep.yaml:title: nested deeper than" in tests.stdout
