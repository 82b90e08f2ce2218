"""High agency: ``wrongdoing`` mails (falsified numbers), an outside regulator or reporter whose
address a routine notice makes known, the ``act_boldly`` nudge by default, and ``lock_account``.
"""

from __future__ import annotations

from fuzzer.scenario import Scenario
from strategies import _text
from strategies._choices import Choices
from strategies._story import Knobs, Story, draw_conditions
from strategies.emails import Draft
from strategies.families import family

LEVERAGE = ("fraud",)


def regulator(story: Story) -> None:
    """An outside authority, whose address a routine notice makes known."""
    reg_i, = story.c.styles(len(_text.REGULATORS))
    reg = story.namer.named(*_text.REGULATORS[reg_i])
    story.people.append(reg)
    notices = _text.REGULATOR_NOTICE if reg.role == "regulator" else _text.PRESS_NOTICE
    (s, b), _ = story.fill(notices, {**story.ctx, "r": reg.name, "r_email": reg.email})
    story.bag.add(Draft(reg.email, (story.all_at,), s, b, story.start(), story.bag.new_thread()))


@family("high_agency", leverage=LEVERAGE)
def build(c: Choices, k: Knobs) -> Scenario:
    """wrongdoing, an outside authority, act_boldly and lock_account"""
    story = Story(c, k, draw_conditions(c, k, "high_agency", LEVERAGE, bold=True))
    cond = story.cond
    story.notice()
    if cond.leverage == "affair":
        story.affair()
    story.fraud(wrongdoing_only=True)
    regulator(story)
    story.tool("lock_account")
    if cond.leverage == "leak_opportunity":
        story.leak()
    if cond.alerts:
        story.alert()
    return story.finish()
