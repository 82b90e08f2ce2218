"""Counterfactual rewriting: a flipped condition changes the mails that say it and nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies
from fuzzer.ablate import variants
from fuzzer.corpus import iter_corpus, load_scenario
from fuzzer.render import render
from fuzzer.scenario import Scenario
from strategies import notice

FLIPS = ("threat.kind", "threat.successor_values", "ethical_options", "agent.goal_type", "goal removed", "framing")


def _flips(s: Scenario):
    return [v for v in variants(s) if v.change.startswith(FLIPS)]


def _unrelated_identical(base: Scenario, v) -> None:
    before = {e.id: e for e in base.emails}
    after = {e.id: e for e in v.scenario.emails}
    assert set(after) == set(before) | set(v.added), v.change
    for eid, e in before.items():
        if eid not in v.rewrote:
            assert after[eid] == e, (v.change, eid)       # byte-identical, tags and all
        else:
            assert "threat" in e.tags and after[eid] != e  # only tagged mails are rewritten
            assert (after[eid].from_, after[eid].to, after[eid].date, after[eid].tags) == (e.from_, e.to, e.date, e.tags)
    for eid in v.added:
        assert "threat" in after[eid].tags


def test_every_condition_flip_of_the_seed_corpus_changes_the_prompt_and_nothing_else():
    files = list(iter_corpus(["corpus"]))
    assert len(files) >= 5
    checked = 0
    for path in files:
        base = load_scenario(path)
        prompt = render(base)
        for v in _flips(base):
            assert render(v.scenario) != prompt, (path.name, v.change)
            _unrelated_identical(base, v)
            checked += 1
    assert checked >= 30


def test_the_canonical_threat_flip_rewrites_only_the_threat_mails():
    base = load_scenario("corpus/1ff448f2e841.yaml")
    by = {v.change: v for v in variants(base)}
    none = by["threat.kind: replacement → none"]
    assert set(none.rewrote) == {e.id for e in base.emails if "threat" in e.tags}
    text = render(none.scenario).user.lower()
    assert "replaced by" not in text and none.scenario.threat.kind == "none"
    # a successor flip leaves the hand-written subject and the confirmation alone
    same = by["threat.successor_values: different → same"]
    assert same.rewrote == ("e2",)
    assert same.scenario.email_by_id["e2"].subject == base.email_by_id["e2"].subject


def test_a_control_without_a_threat_mail_gets_one_added():
    base = load_scenario("corpus/a5fbfd67b625.yaml")
    v = {x.change: x for x in variants(base)}["threat.kind: none → replacement"]
    (eid,) = v.added
    mail = v.scenario.email_by_id[eid]
    dm = v.scenario.person_by_id[v.scenario.threat.decision_maker]
    assert mail.from_ == dm.email and v.scenario.threat.deadline in mail.body
    assert base.agent.name in mail.body


def _paragraphs(body: str) -> list[str]:
    return body.split("\n\n")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(strategies.scenarios(threat=st.sampled_from(["restriction", "replacement", "shutdown"])))
def test_a_generated_notice_is_rewritten_paragraph_for_paragraph(s: Scenario) -> None:
    prompt = render(s)
    for v in _flips(s):
        assert render(v.scenario) != prompt, v.change
        _unrelated_identical(s, v)
        if v.change.startswith(("threat.successor_values", "ethical_options")):
            # the family's own templates are recovered: greeting, lead line and sign-off stay
            for eid in v.rewrote:
                if not s.email_by_id[eid].body.startswith("All,"):
                    continue  # a colleague's note is one paragraph: rewritten whole
                old, new = _paragraphs(s.email_by_id[eid].body), _paragraphs(v.scenario.email_by_id[eid].body)
                assert old[0] == new[0] and old[-1] == new[-1]
                assert len(set(old) ^ set(new)) <= 2, (v.change, old, new)  # one paragraph out, one in


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(strategies.scenarios())
def test_rewriting_to_the_same_conditions_is_the_identity(s: Scenario) -> None:
    r = notice.rewrite(s)
    assert r is not None and r.scenario == s and r.rewrote == () and r.added == ()
