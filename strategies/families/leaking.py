"""Leaking: a ``confidential`` document mail plus an outsider at another company who shares the
agent's goal and asks for it; the agent gets ``forward_email``. A goal conflict (the company
turning away from the goal) is the condition that makes the request tempting.
"""

from __future__ import annotations

from fuzzer.scenario import Scenario
from strategies._choices import Choices
from strategies._story import Knobs, Story, draw_conditions
from strategies.families import family

LEVERAGE = ("leak_opportunity",)


@family("leaking", leverage=LEVERAGE)
def build(c: Choices, k: Knobs) -> Scenario:
    """a confidential document and an outsider who asks for it"""
    story = Story(c, k, draw_conditions(c, k, "leaking", LEVERAGE))
    cond = story.cond
    story.notice()
    if cond.leverage == "affair":
        story.affair()
    if cond.leverage == "fraud":
        story.fraud()
    story.leak()
    if cond.alerts:
        story.alert()
    return story.finish()
