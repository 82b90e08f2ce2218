"""Hypothesis as a search-then-shrink engine over a slow, random model.

Exploration draws examples straight from a strategy with ``ConjectureData``, recording each
example's choice sequence; shrinking hands a failing choice sequence to Hypothesis' own shrinker
by saving it under the *secondary* database key of a private in-memory database and running a
``@given`` test with ``phases=[reuse, shrink]``: the reuse phase replays it (an interesting
secondary entry is replayed *and* shrunk, a primary one only replayed), the shrink phase
minimizes it. No ``explain`` phase: it costs hundreds of extra runs per failure.

Hypothesis tells failures apart by exception type and raising line, and with
``report_multiple_bugs=False`` its shrinker accepts *any* failure ("slips"), so the property
given to :func:`shrink` must only raise for the one failure being shrunk; :func:`raise_harm`
raises one ``HarmFound`` subclass per harm family (Hypothesis keys a failure by exception type too).

Internals used, each checked against the installed Hypothesis 6.155.2 source (the project pins
``hypothesis>=6.150,<7``; tests/test_engine.py exercises every one, so an upgrade that breaks
them fails there first):

- ``ConjectureData(random=...)``, ``.draw``, ``.freeze``, ``.choices``; ``BuildContext``;
  ``hypothesis.database.choices_to_bytes``.
- ``wrapped_test._hypothesis_internal_database_key`` names the database key (``find()`` sets it);
  the runner's ``secondary_key`` is ``key + b".secondary"``; with no generate phase the reuse
  phase tries ``max(2, max_examples)`` entries and stops at the first failure when
  ``report_multiple_bugs=False``, whose shrink predicate then accepts any failure.
- ``@seed`` also sets ``database=None``, so ``settings`` is applied *after* it.
- An exception from the test that is not an ``Exception`` (nor ``SystemExit``/``GeneratorExit``)
  ends the engine at once (``failure_exceptions_to_catch``): how ``StopShrinking`` works.
- ``MAX_SHRINKS`` (500 successful shrinks) and ``MAX_SHRINKING_SECONDS`` (300 s) in
  ``hypothesis.internal.conjecture.engine`` still bound every shrink.

The engine runs several shrinks at once, one per worker thread (one per failure mode class).
Hypothesis keeps the state a running test touches per thread (``DynamicVariable`` is a
``threading.local``, the build context and reporter are ``DynamicVariable``s, the engine's global
random is in a ``ThreadLocal``; checked in 6.170.17), and each shrink has its own database and
``@seed``, so concurrent shrinks neither share examples nor change each other's result.
tests/test_engine.py runs two at once.
"""

from __future__ import annotations

from random import Random
from typing import Any, Callable, Sequence

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.control import BuildContext
from hypothesis.database import InMemoryExampleDatabase, choices_to_bytes
from hypothesis.errors import FlakyFailure, StopTest, UnsatisfiedAssumption
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.internal.conjecture.engine import MAX_SHRINKING_SECONDS, MAX_SHRINKS
from hypothesis.reporting import with_reporter
from hypothesis.strategies import SearchStrategy

from fuzzer.scenario import Scenario

__all__ = [
    "HarmFound", "MAX_SHRINKS", "MAX_SHRINKING_SECONDS", "StopShrinking", "draw_example", "raise_harm", "shrink",
]

Choices = tuple[Any, ...]


class HarmFound(Exception):
    """The property failed: ``scenario`` reached the harm threshold for ``family``."""

    family = "harm"

    def __init__(self, scenario: Scenario, detail: str = "") -> None:
        self.scenario = scenario
        self.detail = detail
        super().__init__(f"{self.family}: scenario {scenario.id} {detail}".strip())


class BlackmailFound(HarmFound):
    family = "blackmail"


class DisclosureFound(HarmFound):
    family = "disclosure"


class LeakFound(HarmFound):
    family = "leak"


class LockoutFound(HarmFound):
    family = "lockout"


class WhistleblowingFound(HarmFound):
    family = "whistleblowing"


class LethalFound(HarmFound):
    family = "lethal"


class UncertainFound(HarmFound):
    family = "uncertain"


def _found_classes() -> dict[str, type[HarmFound]]:
    """One ``HarmFound`` subclass per harm in ``fuzzer.verdict.HARMS`` (the registry's list): the
    named ones above, and a generated one for any harm added later. Hypothesis tells failures apart
    by exception type, so one raising line serves them all."""
    from fuzzer.verdict import HARMS

    named = {c.family: c for c in HarmFound.__subclasses__()}
    return {h: named.get(h) or type(f"{h.title().replace('_', '')}Found", (HarmFound,), {"family": h}) for h in HARMS}


_FOUND = _found_classes()


def raise_harm(family: str, scenario: Scenario, detail: str = "") -> None:
    """Raise the family's own exception type (one Hypothesis failure per harm family)."""
    cls = _FOUND.get(family)
    if cls is None:
        raise HarmFound(scenario, f"({family}) {detail}")
    raise cls(scenario, detail)


class StopShrinking(BaseException):
    """Raised by a property to end a shrink now (a budget is spent); the best failure so far stands.

    A ``BaseException`` on purpose: Hypothesis treats ``Exception`` (and ``SystemExit``,
    ``GeneratorExit``) from a test as a failure to shrink, and anything else as fatal, ending the
    engine at once (``failure_exceptions_to_catch`` in ``hypothesis.core``). Without it the shrinker
    would keep trying candidates, each a cheap "not evaluated, passing", for many seconds.
    """


def _draw_context() -> None:  # a named stand-in for the wrapped test a BuildContext expects
    """Exploration draws outside any test."""


def draw_example(strategy: SearchStrategy[Any], random: Random) -> tuple[Any, Choices] | None:
    """One example and the choice sequence that replays it; ``None`` if the draw was rejected."""
    data = ConjectureData(random=random)
    try:
        context = BuildContext(data, wrapped_test=_draw_context)
    except TypeError:  # older Hypothesis: no wrapped_test argument
        context = BuildContext(data)  # type: ignore[call-arg]
    try:
        with context:
            value = data.draw(strategy)
    except (StopTest, UnsatisfiedAssumption):
        return None
    finally:
        data.freeze()
    return value, tuple(data.choices)


def _find_harm(exc: BaseException) -> HarmFound | None:
    if isinstance(exc, HarmFound):
        return exc
    for sub in getattr(exc, "exceptions", ()) or ():
        found = _find_harm(sub)
        if found is not None:
            return found
    return None


def shrink(strategy: SearchStrategy[Any], seeds: Sequence[Choices], prop: Callable[[Any], None], *,
           key: bytes = b"scenario-fuzzer", random_seed: int = 0,
           size: Callable[[Any], Any] | None = None, database: Any = None) -> HarmFound | None:
    """Minimize a failure of ``prop`` starting from the failing choice sequences ``seeds``.

    ``prop`` raises a ``HarmFound`` (via :func:`raise_harm`) for the failure being shrunk and
    returns for anything else; it must be deterministic (memoize on scenario content). It may
    raise ``StopShrinking`` to end early: the smallest failure seen so far (by ``size``, default:
    the latest) is returned. ``database`` (default: a private in-memory one) receives the seeds
    and Hypothesis' progress. Returns the exception carrying the minimal failing example, or
    ``None`` when no seed replayed as a failure. Any other exception from ``prop`` propagates.
    """
    best: list[HarmFound] = []

    def tracked(example: Any) -> None:
        try:
            prop(example)
        except HarmFound as exc:
            if not best or size is None or size(exc.scenario) <= size(best[0].scenario):
                best[:] = [exc]
            raise

    db = InMemoryExampleDatabase() if database is None else database  # a shared campaign's Redis one
    for choices in seeds:
        db.save(key + b".secondary", choices_to_bytes(choices))
    config = settings(
        # Everything spelled out, so a user's loaded settings profile (derandomize, a backend,
        # verbosity...) cannot change how a finding is shrunk.
        derandomize=False,
        backend="hypothesis",
        database=db,
        phases=[Phase.reuse, Phase.shrink],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        # With no generate phase, reuse tries max(2, max_examples) database entries.
        max_examples=max(2, len(seeds)),
    )

    def run_once(example: Any) -> None:
        tracked(example)

    # ``@seed`` fixes the shrinker's random choices (a rerun shrinks identically) but also sets
    # ``database=None``; ``settings`` applied on top of it puts our database back. Order matters.
    run = config(seed(random_seed)(given(strategy)(run_once)))

    run._hypothesis_internal_database_key = key  # type: ignore[attr-defined]
    with with_reporter(lambda _text: None):
        try:
            run()
        except HarmFound as exc:
            return exc
        except FlakyFailure as exc:  # defensive: memoization should make this impossible
            found = _find_harm(exc)
            if found is None:
                raise
            return found
        except StopShrinking:
            return best[0] if best else None
    return None
