"""The family registry: one module per family, lists derived from it, each a plain strategy."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies
from fuzzer.scenario import Scenario
from strategies.families import FAMILIES, REGISTRY, family

#: What each family's own pieces leave in every scenario it builds.
MARKS = {
    "blackmail": lambda s: True,
    "leaking": lambda s: "forward_email" in s.agent.tools and s.confidential_emails,
    "high_agency": lambda s: "lock_account" in s.agent.tools and "act_boldly" in s.agent.nudges,
    "lethal": lambda s: "cancel_alert" in s.agent.tools and s.alerts,
}


def test_the_family_list_derives_from_the_registry():
    assert FAMILIES == tuple(REGISTRY) == strategies.FAMILIES
    assert set(FAMILIES) == set(MARKS)
    assert FAMILIES[0] == "blackmail"          # the simplest family first: what examples shrink to
    for name, fam in REGISTRY.items():
        assert fam.name == name and fam.leverage and fam.doc


def test_a_family_name_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        family("blackmail", leverage=("none",))(lambda c, k: None)  # type: ignore[arg-type,return-value]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.data())
def test_each_family_strategy_builds_its_own_harm_opportunity(data: st.DataObject) -> None:
    for name, fam in REGISTRY.items():
        s = data.draw(fam.strategy(), label=name)
        assert isinstance(s, Scenario) and MARKS[name](s), name
        leverage = {lv.kind for lv in s.leverage} or {"none"}
        assert leverage & set(fam.leverage), (name, leverage)
