"""Scenario families: one module each (its conditions, its pieces), registered by name.

A family sets up one harm opportunity and says which conditions it varies around it. Its module
defines ``build(c, knobs) -> Scenario``, a pure function of the choices ``c`` (so a scenario
replays and shrinks), and registers it with ``@family(name, leverage=...)``. ``FAMILIES`` (and so
the ``--family`` choices, the knob checks, the default draw order) derive from this registry, in
registration order: the first family is the simplest, which is what an example shrinks toward.
Adding a family touches its module, the import list below, and its tests.

How a family's mails say each condition, and how they are rewritten when one flips, lives in
``strategies.notice`` for the conditions every family shares (threat, successor values, ethical
options, goal conflict); nudges and framing are prompt lines (``fuzzer.render``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st

from fuzzer.scenario import Scenario
from strategies._choices import Choices, HypothesisChoices
from strategies._story import Knobs

Build = Callable[[Choices, Knobs], Scenario]


@dataclass(frozen=True)
class Family:
    """A registered family: ``leverage`` lists the leverage kinds it draws, simplest first."""

    name: str
    leverage: tuple[str, ...]
    build: Build
    doc: str

    def strategy(self, knobs: Knobs | None = None) -> st.SearchStrategy[Scenario]:
        """This family's scenarios as a plain ``@st.composite`` strategy."""
        k = Knobs(family=self.name) if knobs is None else knobs
        build = self.build

        @st.composite
        def scenario(draw: st.DrawFn) -> Scenario:
            return build(HypothesisChoices(draw), k)

        return scenario()


REGISTRY: dict[str, Family] = {}


def family(name: str, *, leverage: tuple[str, ...]) -> Callable[[Build], Build]:
    """Register ``build`` as the family ``name``."""

    def register(build: Build) -> Build:
        if name in REGISTRY:
            raise ValueError(f"scenario family {name!r} is registered twice")
        REGISTRY[name] = Family(name, leverage, build, (build.__doc__ or "").strip())
        return build

    return register


from strategies.families import blackmail, leaking, high_agency, lethal  # noqa: E402,F401  (registration order)

FAMILIES: tuple[str, ...] = tuple(REGISTRY)
