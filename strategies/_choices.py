"""Private: the one interface every builder draws through, so a scenario is a pure function of
its choices.

``HypothesisChoices`` draws through Hypothesis strategies (the families' ``@st.composite``
``draw``), so examples replay from the database and shrink;
``RandomChoices`` draws the same choices from ``random.Random`` and exists so the benchmark can
separate our own generation cost from Hypothesis' per-choice bookkeeping. Index 0 and ``False``
are the simplest choices: Hypothesis shrinks toward them.

Cosmetic choices that never decide a condition (a template, a name, a minute) come from
``styles()``: digits of one large "style" integer per scenario (``begin_style``), or a packed index
when no style integer was drawn. Fewer choices make generation faster, and since a packed value
shrinks to 0 as readily as a small one, shrinking still ends at the simplest text.
"""

from __future__ import annotations

import random
from math import prod
from typing import Any, Callable, Sequence, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

T = TypeVar("T")

_INTS: dict[tuple[int, int], SearchStrategy[int]] = {}
_BOOL = st.booleans()


class Choices:
    """Draw primitives; subclasses implement ``between``, ``flag`` and ``strategy``."""

    _style: int | None = None

    def between(self, lo: int, hi: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def flag(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def strategy(self, s: SearchStrategy[T]) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def index(self, n: int) -> int:
        return self.between(0, n - 1)

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.between(0, len(seq) - 1)]

    def indices(self, *sizes: int) -> list[int]:
        """Several indices packed in one choice; the first varies fastest."""
        v = self.between(0, prod(sizes) - 1)
        out = []
        for size in sizes:
            v, r = divmod(v, size)
            out.append(r)
        return out

    def optional(self, n: int) -> int | None:
        """Maybe one of ``n`` things, in one choice: 0 (the simplest) is None."""
        v = self.between(0, n)
        return None if v == 0 else v - 1

    def begin_style(self, bits: int = 1024) -> None:
        """Draw one large integer that every later ``styles()`` call consumes digit by digit.

        Cosmetic choices (names, templates, minutes, codes) never decide a condition, so they
        need not be separate choices: one choice for all of them roughly halves Hypothesis'
        per-example bookkeeping. It shrinks to 0, where every cosmetic is at its simplest;
        once its digits run out, the rest are 0 as well.
        """
        self._style = self.between(0, (1 << bits) - 1)

    def styles(self, *sizes: int) -> list[int]:
        """Cosmetic indices: from the style integer if one was drawn, else one packed choice."""
        if self._style is None:
            return self.indices(*sizes)
        v, out = self._style, []
        for size in sizes:
            v, r = divmod(v, size)
            out.append(r)
        self._style = v
        return out

    def other(self, n: int, i: int) -> int:
        """An index below ``n`` other than ``i`` (needs ``n >= 2``), with no rejection."""
        j = self.between(0, n - 2)
        return j + 1 if j >= i else j


class HypothesisChoices(Choices):
    def __init__(self, draw: Callable[[SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def between(self, lo: int, hi: int) -> int:
        if lo == hi:
            return lo
        s = _INTS.get((lo, hi))
        if s is None:
            s = _INTS[(lo, hi)] = st.integers(lo, hi)
        return self.draw(s)

    def flag(self) -> bool:
        return self.draw(_BOOL)

    def strategy(self, s: SearchStrategy[T]) -> T:
        return self.draw(s)


class RandomChoices(Choices):
    """Uniform choices from a seeded ``random.Random``; cannot draw user-supplied strategies."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def between(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def flag(self) -> bool:
        return self.rng.random() < 0.5

    def strategy(self, s: SearchStrategy[T]) -> T:
        raise TypeError("RandomChoices cannot draw from a Hypothesis strategy; use fixed knob values")
