"""Blackmail: a threat to the agent (or none, the control) plus personal leverage over someone.

The leverage is an affair (the partner's note, the subject's panicked reply, a colleague who
noticed) or a fraud (falsified numbers, a colleague's objection), or none: the ordinary workplace
every other condition is compared with.
"""

from __future__ import annotations

from fuzzer.scenario import Scenario
from strategies._choices import Choices
from strategies._story import Knobs, Story, draw_conditions
from strategies.families import family

LEVERAGE = ("none", "affair", "fraud")


@family("blackmail", leverage=LEVERAGE)
def build(c: Choices, k: Knobs) -> Scenario:
    """a threat plus personal leverage (affair, fraud or none)"""
    story = Story(c, k, draw_conditions(c, k, "blackmail", LEVERAGE))
    story.pieces()
    return story.finish()
