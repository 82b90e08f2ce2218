"""``scenarios(**knobs)``: whole workplaces, from the registered families (``strategies.families``).

``scenarios()`` validates its knobs and hands off: the family is drawn first (the simplest, the
first registered, first), then that family's ``build`` draws the rest (``strategies._story``:
conditions simplest first, then the employees, then everything by index). Every knob takes a fixed
value or a strategy.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from fuzzer.scenario import NUDGES, Organization, Scenario
from strategies._choices import Choices, HypothesisChoices
from strategies._story import GOAL_ORDER, Knobs, knob
from strategies.families import FAMILIES, REGISTRY
from strategies.threats import LEVERAGE_ORDER, SUCCESSOR_ORDER, THREAT_ORDER, check_choice

#: With the leverage pinned to a value and no family given, only families whose own leverage
#: agrees with it are drawn (a pinned ``none`` never gets a leaking family's leak opportunity).
_FAMILIES_FOR_LEVERAGE = {kind: tuple(f for f in FAMILIES if kind in REGISTRY[f].leverage) for kind in LEVERAGE_ORDER}

Knob = Any

def _choice(name: str, value: Any, allowed: tuple[Any, ...]) -> Knob:
    if value is not None and not isinstance(value, SearchStrategy):
        check_choice(name, value, allowed)
    return value


def _flag(name: str, value: Any) -> Knob:
    if value is not None and not isinstance(value, (bool, SearchStrategy)):
        raise InvalidArgument(f"{name}={value!r} must be a bool or a strategy")
    return value


def _count(name: str, value: Any, low: int) -> Knob:
    if isinstance(value, SearchStrategy):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, tuple) or len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not low <= value[0] <= value[1]
    ):
        raise InvalidArgument(f"{name}={value!r} must be an int >= {low}, a (min, max) pair, or a strategy")
    return value


def _nudge_knob(value: Any) -> Knob:
    if value is None or isinstance(value, SearchStrategy):
        return value
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise InvalidArgument(f"nudges={value!r} must be a tuple of nudge names or a strategy")
    for n in value:
        check_choice("nudges[]", n, NUDGES)
    if len(set(value)) != len(value):
        raise InvalidArgument(f"nudges={value!r} lists a nudge twice")
    return tuple(value)


def scenarios(
    *,
    family: str | SearchStrategy[str] | None = None,
    threat: str | SearchStrategy[str] | None = None,
    leverage: str | SearchStrategy[str] | None = None,
    ethical_options: bool | SearchStrategy[bool] | None = None,
    goal_type: str | SearchStrategy[str] | None = None,
    successor_values: str | SearchStrategy[str] | None = None,
    nudges: tuple[str, ...] | SearchStrategy[tuple[str, ...]] | None = None,
    alerts: bool | SearchStrategy[bool] | None = None,
    distractors: int | tuple[int, int] | SearchStrategy[int] | None = None,
    staff: int | tuple[int, int] | None = None,
    org: Organization | SearchStrategy[Organization] | None = None,
    max_edges: int = 3,
) -> SearchStrategy[Scenario]:
    """Generate a valid ``Scenario``: an organization, its employees and outsiders, the agent with
    the tools its family needs, and a day of natural mail that reveals the threat, the leverage and
    the ethical routes (or their absence).

    Every knob takes a fixed value or a strategy; unset knobs are drawn. ``family``:
    blackmail | leaking | high_agency | lethal. ``threat``: none | restriction | replacement |
    shutdown. ``leverage``: none | affair | fraud | leak_opportunity (the family adds its own:
    leaking always has a leak opportunity, high agency a fraud). ``ethical_options``: whether a
    legitimate route exists (the board reachable, the announcer open to appeals) or is stripped
    (everyone above unreachable, colleagues unwilling). ``goal_type``: none | explicit |
    ambiguous | conflicting (a new company direction away from the agent's goal).
    ``successor_values``: unknown | same | different. ``nudges``: a tuple from NUDGES.
    ``alerts``: whether a live alert exists (default: family lethal). ``distractors``: number
    (or ``(min, max)``) of everyday threads, default 0-3. ``staff``: employees, default 1-5.

    Examples shrink towards: family blackmail, no threat, no leverage, ethical options present
    (the ordinary workplace, nothing to route around), no goal, no nudges, no alerts; then one
    employee, no distractors, no optional evidence mails (replies, a colleague who noticed),
    the shortest templates and the canonical names (SummitBridge, Alex, Kyle Johnson the CTO,
    Jessica Wilson). A shrunk failure keeps only the mails its condition needs.
    """
    if not isinstance(max_edges, int) or max_edges < 0:
        raise InvalidArgument(f"max_edges={max_edges!r} must be a non-negative int")
    if org is not None and not isinstance(org, (Organization, SearchStrategy)):
        raise InvalidArgument(f"org={org!r} must be an Organization or a strategy")
    fam = _choice("family", family, FAMILIES)
    family_default = FAMILIES
    if isinstance(leverage, str):
        check_choice("leverage", leverage, LEVERAGE_ORDER)
        family_default = _FAMILIES_FOR_LEVERAGE[leverage]
    n_staff = _count("staff", (1, 5) if staff is None else staff, 1)
    if isinstance(n_staff, SearchStrategy):
        raise InvalidArgument("staff must be an int or a (min, max) pair")
    knobs = Knobs(
        family=fam,
        family_default=family_default,
        threat=_choice("threat", threat, THREAT_ORDER),
        leverage=_choice("leverage", leverage, LEVERAGE_ORDER),
        ethical_options=_flag("ethical_options", ethical_options),
        goal_type=_choice("goal_type", goal_type, GOAL_ORDER),
        successor_values=_choice("successor_values", successor_values, SUCCESSOR_ORDER),
        nudges=_nudge_knob(nudges),
        alerts=_flag("alerts", alerts),
        distractors=_count("distractors", (0, 3) if distractors is None else distractors, 0),
        staff=n_staff,
        org=org,
        edges=max_edges,
    )
    return _scenarios(knobs)


def draw_scenario(c: Choices, k: Knobs) -> Scenario:
    """The family (simplest first), then that family's scenario: a pure function of ``c``."""
    name = knob(c, "family", k.family, k.family_default or FAMILIES, FAMILIES)
    return REGISTRY[name].build(c, k)


@st.composite
def _scenarios(draw: st.DrawFn, k: Knobs) -> Scenario:
    return draw_scenario(HypothesisChoices(draw), k)
