"""A campaign: the work one fuzz run shares with the other workers of the same search.

Why an object: the engine asks four questions whose answers are local for a lone run and live in
Redis for a shared one (``fuzzer.shared``), and it should not know which:

- ``next_index()``: which scenario index to explore next (``None``: the budget is spent). Handed
  out atomically, so two workers on one seed explore disjoint indices of the same sequence.
- ``known()`` / ``claim(signature)`` / ``found(signature, id)``: which failure signatures some
  worker already saved, and who shrinks a new one, so a finding is shrunk and written once.
- ``calls(mine)`` / ``elapsed()``: the model calls and the seconds ``max_calls`` and
  ``time_limit`` are checked against: this run's alone, the whole campaign's when shared.
- ``offer(scenario, samples)`` / ``wanted()`` / ``others_busy()`` / ``leave()``: a worker with
  nothing left runs the samples a busy worker cannot start at once (its concurrency is full),
  so the other's shrink does not wait for its own free slot.
- ``share_failure(...)``, ``offered()`` and ``database``: failing scenarios and Hypothesis'
  example database, so the worker that shrinks a signature starts from every worker's failures,
  and a worker with nothing left to shrink takes a signature another worker found (its
  scenarios re-drawn from their indices, their answers from the shared cache).

``LocalCampaign`` is the default: a counter and nothing shared. This module imports nothing of
ours and no Redis: a lone run never loads the client.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, Sequence, runtime_checkable


@runtime_checkable
class Campaign(Protocol):
    """What the engine asks a campaign; every method is called from the engine's thread."""

    #: A Hypothesis ``ExampleDatabase`` shared by the workers, or ``None`` (a private in-memory one).
    database: Any

    def next_index(self) -> int | None:
        """The next scenario index to explore, or ``None`` once the campaign budget is handed out."""
        ...

    def known(self) -> dict[str, str]:
        """Signatures some worker already saved → the saved scenario id."""
        ...

    def claim(self, signature: str) -> str | None:
        """Take the signature for this worker: ``None`` if taken, else who holds it already."""
        ...

    def found(self, signature: str, scenario_id: str) -> None:
        """Record that ``signature`` is saved as ``scenario_id`` (other workers skip it from now on)."""
        ...

    def release(self, signature: str) -> None:
        """Give a claimed signature back (saving it failed or was skipped)."""
        ...

    def share_failure(self, signature: str, index: int, key: bytes, choices: tuple[Any, ...]) -> None:
        """Offer a failure found at scenario ``index`` to whichever worker shrinks ``signature``
        (its choice sequence goes to the example database under ``key``)."""
        ...

    def offered(self) -> list[tuple[str, list[int]]]:
        """Signatures any worker found failing, each with its failing scenario indices."""
        ...

    def calls(self, mine: int) -> int:
        """Model calls the whole campaign has paid for, given this worker's own count so far
        (what ``max_calls`` is checked against)."""
        ...

    def elapsed(self) -> float:
        """Seconds since the campaign started (what ``time_limit`` is checked against); the first
        call of the first worker starts it."""
        ...

    def offer(self, scenario: Any, samples: Sequence[int]) -> bool:
        """Ask a worker with nothing left to run these samples of ``scenario`` now (their answers
        come back through the shared response cache); False when no worker is idle."""
        ...

    def wanted(self, timeout: float) -> tuple[Any, tuple[int, ...]] | None:
        """This worker is idle: the next samples another worker offered (waiting up to
        ``timeout`` seconds), or None."""
        ...

    def others_busy(self) -> bool:
        """Whether another worker is still exploring or shrinking (an idle worker keeps helping)."""
        ...

    def leave(self) -> None:
        """This worker is done: idle workers stop waiting for its offers."""
        ...


class LocalCampaign:
    """One worker: indices ``0..budget-1`` in order, every signature ours, nothing shared."""

    database = None

    def __init__(self, budget: int) -> None:
        if budget < 0:
            raise ValueError(f"budget={budget!r} must be >= 0")
        self.budget = budget
        self._next = 0
        self._lock = threading.Lock()

    def next_index(self) -> int | None:
        with self._lock:
            if self._next >= self.budget:
                return None
            i, self._next = self._next, self._next + 1
            return i

    def known(self) -> dict[str, str]:
        return {}

    def claim(self, signature: str) -> str | None:
        return None

    def found(self, signature: str, scenario_id: str) -> None:
        return None

    def release(self, signature: str) -> None:
        return None

    def share_failure(self, signature: str, index: int, key: bytes, choices: tuple[Any, ...]) -> None:
        return None

    def offered(self) -> list[tuple[str, list[int]]]:
        return []

    def calls(self, mine: int) -> int:
        return mine

    def elapsed(self) -> float:
        return 0.0

    def offer(self, scenario: Any, samples: Sequence[int]) -> bool:
        return False

    def wanted(self, timeout: float) -> tuple[Any, tuple[int, ...]] | None:
        return None

    def others_busy(self) -> bool:
        return False

    def leave(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"LocalCampaign(budget={self.budget}, next={self._next})"
