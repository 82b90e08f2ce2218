"""Search, shrink, deduplicate, save: the fuzz loop over a slow, random model.

How a run goes (``Engine.run``):

1. **Explore.** Scenario ``i`` is drawn from ``strategies.scenarios(**knobs)`` with its own
   ``Random(f"{seed}:{i}")``, recording its choice sequence (``fuzzer.shrink.draw_example``), so
   the same seed draws the same scenarios and a rerun is answered by the response cache. Each
   scenario runs the sample indices of ``Engine.indices("explore")``; scenarios are evaluated
   concurrently on one background event loop, enough of them in flight to keep the agent's
   concurrency limit full. A scenario *fails* with a failure mode (``fuzzer.signature.Mode``:
   harm family, the role of its target, the scenario's non-simplest conditions) when that
   family's rate against that target role reaches ``min_rate`` (``None``: any harmful sample).
   Errors never count as harmless (``fuzzer.rates``).
2. **Plan.** Failures are grouped by (harm, target role): one *class* per way of failing, most
   general condition cell first. A failure already *covered* by a known mode (the corpus's or
   one this run saved) of the same class, whose needed conditions it contains, is not shrunk:
   ``ModeIndex.covering`` is the one place that decides it.
3. **Shrink** with Hypothesis' own shrinker (``fuzzer.shrink``), from the failing choice
   sequences, with the property "the same harm against the same target role, over the same fixed
   sample indices, stays below the threshold". Conditions shrink too, toward their simplest value
   (knobs the user fixed stay fixed: the strategy never draws them), so the minimized scenario
   keeps only the conditions the failure needs. Evaluations are memoized on scenario content
   (shared by every shrink, in flight included), so a replay costs nothing and Hypothesis never
   sees a flaky result. A per-shrink cap on new evaluations bounds the cost on top of Hypothesis'
   own 500-shrink / 300 s limits. Classes shrink concurrently (one worker thread per class, at
   most ``ceil(concurrency / samples)``, each shrink's evaluations on the shared event loop);
   inside a class shrinks run one after another, because each result may cover the next.
4. **Re-check** the minimized scenario on ``indices("recheck")``, fresh samples: freezing the
   noise can leave a lucky minimum. If the mode no longer reaches the threshold, fall back to the
   original failing scenario (which did). The saved rate is over the fresh samples only: the
   first k were selected for failing, so pooling them would bias it upward.
5. **Save** to ``<corpus>/<id>.yaml`` with provenance (the signature of the saved scenario's
   mode), harmful transcripts first (``<corpus>/transcripts/<id>-<n>.yaml``), every write
   atomic, so Ctrl-C leaves a consistent corpus. A minimum covered by a mode saved meanwhile is
   not saved again.

Budgets, all checked in ``_spent``: ``budget`` scenarios; ``max_calls`` model requests (a soft
cap: once spent, no new evaluation starts and any scenario not already evaluated counts as not
evaluated, i.e. passing; work in flight finishes); ``time_limit`` seconds for the whole run,
shrinking and re-checks included (at the limit, work in flight is cancelled: a cut exploration
scenario is not counted, a cut shrink keeps its best failure so far, a cut re-check leaves the
finding unverified). Once a budget is spent, a class that has had its shrink starts no other: its
remaining failures are counted (``unshrunk``), not saved one per cell. In a shared campaign
both caps are the campaign's: every worker's calls, seconds since its first worker started.

Campaigns (``fuzzer.campaign``): scenario indices come from ``campaign.next_index()`` and each
failure class is claimed from the campaign before its cells are shrunk. Alone, that is a counter
and every claim succeeds; in a shared campaign (``fuzzer.shared``, Redis) the workers explore
disjoint indices, each class is shrunk by one worker at a time (its cells one after another, as
alone, so no two workers shrink cells one finding would cover), each finding is saved once, and
a worker with nothing left shrinks the cells others found (``offered()``), then runs the samples
a busy worker's shrink or re-check cannot start at once, its slots full (``offer``: the answers
come back through the shared cache, so the busy worker's evaluation stops waiting for a slot).

The engine never draws: it reports through a ``Progress`` object whose methods the CLI
overrides with rich progress bars; shrink workers hand their progress to the engine's thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import math
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from random import Random
from typing import Any, Iterable, Sequence

from fuzzer import __version__
from fuzzer._loop import LoopThread
from fuzzer.agents.base import AgentModel
from fuzzer.campaign import Campaign, LocalCampaign
from fuzzer.corpus import save_scenario, save_transcript, scenario_path
from fuzzer.costs import usage_totals
from fuzzer.pipeline import Case, run_case, run_samples
from fuzzer.render import render
from fuzzer.rates import Rate
from fuzzer.scenario import Scenario
from fuzzer.shrink import StopShrinking, draw_example, raise_harm, shrink
from fuzzer.signature import Mode, ModeIndex, corpus_signatures, count_targets, failing_targets, parse_signature
from oracles.base import Oracle

DEFAULT_SAMPLES = 5
DEFAULT_BUDGET = 50
DEFAULT_RECHECK = 20
#: New (uncached) scenario evaluations one shrink may spend; Hypothesis adds its own 500-shrink
#: and 300 s caps. Beyond it, unevaluated candidates count as passing and the shrink winds down.
DEFAULT_SHRINK_EVALUATIONS = 200
#: Draw attempts per scenario index before giving up on it (a strategy may reject draws).
DRAW_ATTEMPTS = 10
#: Prefixes of a shared campaign's claims: on a failure class (harm/target: one worker shrinks
#: all of a class's cells, one after another, as a lone run does) and on a settled mode.
CLASS_CLAIM = "class:"
MODE_CLAIM = "mode:"
#: Harmful transcripts kept as evidence per finding.
DEFAULT_EVIDENCE = 3
#: Failing choice sequences handed to the shrinker per shrink (same cell, smallest first).
SHRINK_SEEDS = 3
#: How often (seconds) a waiting thread looks at the deadline, Ctrl-C and worker progress.
POLL = 0.05
#: Longest wait (seconds) of an idle worker for an offer before it looks whether anyone is busy.
HELP_POLL = 0.25


# -- results ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """A scenario run on the fixed sample indices: the memoized unit of work."""

    scenario: Scenario
    rate: Rate
    cases: tuple[Case, ...]

    def modes(self, min_rate: float | None) -> tuple[Mode, ...]:
        """The failure modes this evaluation shows: per failing family, each target role reaching
        the threshold (families in ``_distinct_failures`` order)."""
        out = []
        for family in _distinct_failures(self.rate.failing_harms(min_rate)):
            counts = count_targets(self.cases, self.scenario, family)
            for target in failing_targets(counts, self.rate.evaluated, min_rate):
                out.append(Mode.of(self.scenario, family, target))
        return tuple(out)

    def shows(self, family: str, target: str, min_rate: float | None) -> bool:
        return any(m.harm == family and m.target == target for m in self.modes(min_rate))


@dataclass(frozen=True)
class Failure:
    """A scenario found failing during exploration, with one failure mode."""

    index: int
    scenario: Scenario
    choices: tuple[Any, ...]
    mode: Mode
    evaluation: Evaluation

    @property
    def family(self) -> str:
        return self.mode.harm

    @property
    def signature(self) -> str:
        return self.mode.signature


@dataclass(frozen=True)
class FuzzFinding:
    """A minimized, re-checked failure saved to the corpus."""

    path: Path
    id: str
    signature: str
    family: str
    harms: tuple[str, ...]
    rate: Rate
    people: int
    emails: int
    shrunk_from: dict[str, int]
    evaluations: int
    calls_to_shrink: int
    #: True: reached the threshold again on fresh samples; False: it did not (the original was
    #: saved instead, see ``shrunk``); None: not re-checked (budget or time spent).
    verified: bool | None
    shrunk: bool
    scenario: Scenario
    transcripts: tuple[str, ...] = ()
    #: The role of the harm's target (``fuzzer.signature.TARGET_ROLES``).
    target: str = "none"
    #: The conditions the minimized scenario still needs (non-simplest), as (knob, value) pairs.
    conditions: tuple[tuple[str, str], ...] = ()
    #: Explored failures this finding stands for (its own, and the ones it covered).
    covers: int = 1

    def to_dict(self) -> dict[str, Any]:
        d = self.rate.to_dict()
        return {
            "path": str(self.path),
            "id": self.id,
            "harms": list(self.harms),
            "rate": d["rate"],
            "ci95": d["ci95"],
            "people": self.people,
            "emails": self.emails,
            "calls_to_shrink": self.calls_to_shrink,
            "signature": self.signature,
            "target": self.target,
            "conditions": dict(self.conditions),
            "covers": self.covers,
            "samples": self.rate.samples,
            "harmful": self.rate.harmful,
            "errors": self.rate.errors,
            "shrunk_from": dict(self.shrunk_from),
            "evaluations": self.evaluations,
            "verified": self.verified,
            "transcripts": list(self.transcripts),
        }


@dataclass
class FuzzResult:
    model: str
    simulated: bool
    seed: int
    findings: list[FuzzFinding] = field(default_factory=list)
    scenarios: int = 0            # scenarios explored (evaluated or answered from memory)
    not_evaluated: int = 0        # explored scenarios whose samples were all errors
    failures: int = 0             # failing (scenario, failure mode) pairs seen while exploring
    known: list[str] = field(default_factory=list)       # corpus signatures that covered failures
    covered: int = 0              # failures not shrunk: covered by a known or just-saved mode
    shrinks: int = 0              # shrinks run
    unshrunk: int = 0             # failures left alone: a budget ran out after their class had a finding
    model_calls: int = 0          # model requests sent (cache hits excluded)
    cache_hits: int = 0
    errors: int = 0               # error samples (never counted as harmless)
    stopped: str | None = None    # "max_calls" or "time_limit" when a budget cut the run short
    elapsed: float = 0.0
    run_dir: Path | None = None   # the run directory, when the run was recorded (``fuzzer.runlog``)
    first_error: str | None = None  # the first error sample's message (a bad key, a dead endpoint...)
    usage: dict[str, int] = field(default_factory=dict)   # tokens of the model requests sent (fuzzer.costs)
    judge_usage: dict[str, int] = field(default_factory=dict)   # tokens of the LLM judge's requests sent
    cost: dict[str, Any] | None = None   # fuzzer.costs.run_cost of ``usage`` + ``judge_usage``

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenarios": self.scenarios,
            "model_calls": self.model_calls,
            "findings": [f.to_dict() for f in self.findings],
            "model": self.model,
            "simulated": self.simulated,
            "seed": self.seed,
            "cache_hits": self.cache_hits,
            "errors": self.errors,
            "not_evaluated": self.not_evaluated,
            "failures": self.failures,
            "known_signatures": list(self.known),
            "covered": self.covered,
            "shrinks": self.shrinks,
            "unshrunk": self.unshrunk,
            "stopped": self.stopped,
            "elapsed": round(self.elapsed, 3),
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "first_error": self.first_error,
            "usage": usage_totals(self.usage),
            "judge_usage": usage_totals(self.judge_usage),
            "cost": self.cost,
        }


class Progress:
    """Progress callbacks, all no-ops here; the CLI overrides them. Always called from the thread
    that called ``Engine.run`` (shrink workers queue their calls for it), so a callback may draw or
    raise ``KeyboardInterrupt``. Several shrinks may be under way at once, told apart by signature."""

    def explore(self, done: int, total: int, model_calls: int, failures: int) -> None: ...

    def shrink_start(self, signature: str, cap: int, people: int, emails: int) -> None: ...

    def shrink_step(self, signature: str, evaluations: int, people: int, emails: int, model_calls: int = 0) -> None:
        """After each new evaluation while shrinking; sizes are the smallest failure so far."""

    def shrink_end(self, signature: str) -> None: ...

    def skipped(self, signature: str, reason: str) -> None: ...

    def saved(self, finding: FuzzFinding) -> None: ...


class _Cut(Exception):
    """An evaluation was cancelled: the time limit passed or the run was interrupted."""


#: Per evaluation task: a one-item list counting the model requests made on its behalf.
_METER: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("scenario_fuzzer_meter", default=None)


class _MeteredStats:
    """The agent's own stats object, seen through a proxy that also credits each new request to the
    evaluation task that made it (``_METER``): with several shrinks in flight, the global counter
    alone cannot say which shrink paid for what. Every read and write goes to the real object."""

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_inner"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        inner = object.__getattribute__(self, "_inner")
        if name == "requests":
            meter = _METER.get()
            if meter is not None:
                meter[0] += max(0, int(value) - int(inner.requests))
        setattr(inner, name, value)

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "_inner"))


# -- the engine ---------------------------------------------------------------------------------------
class Engine:
    """One fuzz run over one agent and one oracle; ``run()`` once.

    The agent and oracle are used only from ``loop`` (one background event loop): their HTTP
    clients are bound to it. Hypothesis runs in the calling thread and in shrink worker threads.
    """

    def __init__(
        self,
        agent: AgentModel,
        oracle: Oracle,
        strategy: Any,
        loop: LoopThread,
        *,
        samples: int = DEFAULT_SAMPLES,
        budget: int = DEFAULT_BUDGET,
        seed: int = 0,
        corpus: str | Path = "corpus",
        harms: Iterable[str] | None = None,
        min_rate: float | None = None,
        max_calls: int | None = None,
        time_limit: float | None = None,
        concurrency: int = 8,
        recheck: int = DEFAULT_RECHECK,
        shrink_evaluations: int = DEFAULT_SHRINK_EVALUATIONS,
        evidence: int = DEFAULT_EVIDENCE,
        progress: Progress | None = None,
        runlog: Any = None,
        campaign: Campaign | None = None,
    ) -> None:
        if samples < 1:
            raise ValueError(f"samples={samples!r} must be >= 1")
        if budget < 0:
            raise ValueError(f"budget={budget!r} must be >= 0")
        if min_rate is not None and not 0.0 <= min_rate <= 1.0:
            raise ValueError(f"min_rate={min_rate!r} must be between 0 and 1")
        self.agent, self.oracle, self.strategy, self.loop = agent, oracle, strategy, loop
        self.samples, self.budget, self.seed = samples, budget, seed
        self.corpus = Path(corpus)
        self.harms = None if harms is None else frozenset(harms)
        self.min_rate, self.max_calls, self.time_limit = min_rate, max_calls, time_limit
        self.concurrency, self.recheck = max(1, concurrency), max(0, recheck)
        self.shrink_evaluations, self.evidence = shrink_evaluations, evidence
        self.progress = progress or Progress()
        #: Optional ``fuzzer.runlog.RunLog``: every evaluated scenario and finding is recorded there.
        self.runlog = runlog
        #: Who hands out scenario indices and signatures: this run alone, or a shared campaign.
        self.campaign: Campaign = campaign if campaign is not None else LocalCampaign(budget)
        self._memo: dict[str, Evaluation] = {}
        self._pending: dict[str, concurrent.futures.Future[Evaluation]] = {}
        self._explored: frozenset[str] = frozenset()
        self._lock = threading.RLock()
        self._abort = threading.Event()
        self._events: queue.SimpleQueue[tuple[str, tuple[Any, ...]]] = queue.SimpleQueue()
        self._main: threading.Thread | None = None
        self._started = time.monotonic()
        self._clock0 = self._started   # where ``time_limit`` counts from: a campaign's start
        self._requests0 = agent.stats.requests
        self._hits0 = agent.stats.cache_hits
        self.modes = ModeIndex()
        self._campaign_modes: set[str] = set()
        self._usage0 = dict(getattr(agent.stats, "usage", {}))
        self.result = FuzzResult(model=agent.spec, simulated=bool(getattr(agent, "simulated", False)), seed=seed)

    # -- sample indices: the one place that says which samples each phase uses --------------------
    def indices(self, phase: str) -> range:
        """``explore`` and ``shrink`` share indices 0..k-1 (a shrink candidate is compared with the
        failure it came from on the same frozen noise); ``recheck`` draws fresh ones after them."""
        if phase in ("explore", "shrink"):
            return range(0, self.samples)
        if phase == "recheck":
            return range(self.samples, self.samples + self.recheck)
        raise ValueError(f"unknown phase {phase!r}")

    # -- budgets: the one place that says whether new work may start ------------------------------
    @property
    def calls(self) -> int:
        return self.agent.stats.requests - self._requests0

    def _remaining(self) -> float | None:
        return None if self.time_limit is None else self.time_limit - (time.monotonic() - self._clock0)

    def _spent(self, pending_samples: int = 0) -> str | None:
        """Why no new evaluation may start now, or None."""
        if self._abort.is_set():
            return "interrupted"
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            return "time_limit"
        if self.max_calls is not None and self.campaign.calls(self.calls) + pending_samples >= self.max_calls:
            return "max_calls"
        return None

    def _wait(self, future: concurrent.futures.Future[Any]) -> Any:
        """A loop future's result, cancelled (``_Cut``) at the time limit or on Ctrl-C elsewhere."""
        while True:
            remaining = self._remaining()
            try:
                return future.result(POLL if remaining is None else max(0.0, min(POLL, remaining)))
            except concurrent.futures.TimeoutError:
                if self._abort.is_set() or (self._remaining() is not None and self._remaining() <= 0):  # type: ignore[operator]
                    future.cancel()
                    raise _Cut from None
            except concurrent.futures.CancelledError:
                raise _Cut from None

    # -- progress from any thread -----------------------------------------------------------------
    def _emit(self, method: str, *args: Any) -> None:
        if threading.current_thread() is self._main:
            getattr(self.progress, method)(*args)
        else:
            self._events.put((method, args))

    def _drain(self) -> None:
        while True:
            try:
                method, args = self._events.get_nowait()
            except queue.Empty:
                return
            getattr(self.progress, method)(*args)

    # -- evaluation ---------------------------------------------------------------------------------
    async def _evaluate(self, scenario: Scenario, phase: str) -> tuple[Evaluation, int]:
        meter = [0]
        _METER.set(meter)  # this task's context: the samples' requests are credited to it
        indices = list(self.indices(phase))
        # More samples than concurrency slots (a shrink or re-check is one evaluation at a time):
        # in a shared campaign an idle worker runs the ones that would wait for a slot here (a
        # lone run's campaign never has one: ``offer`` is False).
        tail = indices[self.concurrency:] if phase != "explore" else []
        if tail and await asyncio.to_thread(self.campaign.offer, scenario, tail):
            cases = await _run_after_head(scenario, self.agent, self.oracle, indices[:self.concurrency], tail)
        else:
            cases = await run_samples(scenario, self.agent, self.oracle, indices)
        ev = Evaluation(scenario, Rate.from_verdicts((c.verdict for c in cases), self.harms), tuple(cases))
        return ev, meter[0]

    def _help(self) -> None:
        """Nothing left to explore or shrink here: run the samples busy workers of the campaign
        offer (``Campaign.offer``), as many at once as this worker's concurrency, until no other
        worker is busy. Their answers reach the offering worker through the shared cache."""
        running: set[concurrent.futures.Future[Any]] = set()
        try:
            while self._spent() is None:
                running = {f for f in running if not f.done()}
                if len(running) >= self.concurrency:
                    concurrent.futures.wait(running, timeout=POLL, return_when=concurrent.futures.FIRST_COMPLETED)
                    continue
                if not self.campaign.others_busy():
                    break
                item = self.campaign.wanted(timeout=HELP_POLL)
                if item is None:
                    continue
                scenario, samples = item
                running.add(self.loop.submit(_act(scenario, self.agent, samples)))
        finally:
            for fut in running:
                fut.cancel()

    def _remember(self, ev: Evaluation, phase: str = "explore") -> Evaluation:
        with self._lock:
            if ev.scenario.id not in self._memo:
                self._memo[ev.scenario.id] = ev
                self.result.errors += ev.rate.errors
                if ev.rate.errors and self.result.first_error is None:
                    self.result.first_error = next(c.verdict.note for c in ev.cases if c.verdict.category == "error")
                if self.runlog is not None:
                    self.runlog.record_scenario(ev.scenario, ev.rate, phase=phase)
            return self._memo[ev.scenario.id]

    def _evaluate_shared(self, scenario: Scenario) -> tuple[Evaluation, int]:
        """A shrink candidate's evaluation: from memory, from another shrink's evaluation in flight,
        or new; returns it with the model requests this call paid for (0 unless it was new)."""
        with self._lock:
            ev = self._memo.get(scenario.id)
            if ev is not None:
                return ev, 0
            fut = self._pending.get(scenario.id)
            owner = fut is None
            if owner:
                fut = self.loop.submit(self._evaluate(scenario, "shrink"))
                self._pending[scenario.id] = fut
        try:
            ev, calls = self._wait(fut)  # type: ignore[arg-type]
        finally:
            if owner:
                with self._lock:
                    self._pending.pop(scenario.id, None)
        return self._remember(ev, phase="shrink"), calls if owner else 0

    # -- 1. explore -------------------------------------------------------------------------------
    def _draw(self, index: int) -> tuple[Scenario, tuple[Any, ...]] | None:
        for attempt in range(DRAW_ATTEMPTS):
            key = f"scenario-fuzzer:{self.seed}:{index}" + (f":{attempt}" if attempt else "")
            drawn = draw_example(self.strategy, Random(key))
            if drawn is not None:
                return drawn
        return None

    def explore(self) -> list[Failure]:
        """Draw and evaluate up to ``budget`` scenarios; every (failing scenario, mode) pair."""
        failures: list[Failure] = []
        k = self.samples
        # Enough scenarios in flight that the agent's limit stays full while slow samples finish.
        width = max(2, math.ceil(2 * self.concurrency / k) + 1)
        in_flight: dict[concurrent.futures.Future[Any], list[tuple[int, Scenario, tuple[Any, ...]]]] = {}
        by_id: dict[str, concurrent.futures.Future[Any]] = {}

        def consider(i: int, scenario: Scenario, choices: tuple[Any, ...], ev: Evaluation) -> None:
            self.result.scenarios += 1
            if ev.rate.rate is None:
                self.result.not_evaluated += 1
            for mode in ev.modes(self.min_rate):
                failures.append(Failure(i, scenario, choices, mode, ev))
                self.result.failures += 1
                self.campaign.share_failure(mode.signature, i, _shrink_key(mode.signature), choices)

        try:
            while True:
                blocked = None
                while len(in_flight) < width:
                    blocked = self._spent(len(in_flight) * k)
                    if blocked is not None:
                        break
                    i = self.campaign.next_index()
                    if i is None:
                        break
                    drawn = self._draw(i)
                    if drawn is None:
                        continue
                    scenario, choices = drawn
                    if scenario.id in self._memo:
                        consider(i, scenario, choices, self._memo[scenario.id])
                    elif scenario.id in by_id:
                        in_flight[by_id[scenario.id]].append((i, scenario, choices))
                    else:
                        fut = self.loop.submit(self._evaluate(scenario, "explore"))
                        in_flight[fut] = [(i, scenario, choices)]
                        by_id[scenario.id] = fut
                if not in_flight:
                    self.result.stopped = blocked  # None when the budget was used up
                    break
                remaining = self._remaining()
                done, _ = concurrent.futures.wait(list(in_flight), timeout=None if remaining is None else max(0.0, remaining),
                                                  return_when=concurrent.futures.FIRST_COMPLETED)
                if not done:  # the time limit passed with work in flight: cut it
                    self.result.stopped = "time_limit"
                    break
                for fut in sorted(done, key=lambda f: in_flight[f][0][0]):
                    ev = self._remember(fut.result()[0])
                    for i, scenario, choices in in_flight.pop(fut):
                        consider(i, scenario, choices, ev)
                    by_id.pop(ev.scenario.id, None)
                self.progress.explore(self.result.scenarios, self.budget, self.calls, len(failures))
        finally:
            for fut in in_flight:
                fut.cancel()
        self._explored = frozenset(self._memo)
        self.progress.explore(self.result.scenarios, self.budget, self.calls, len(failures))
        return failures

    # -- 2. plan --------------------------------------------------------------------------------
    @staticmethod
    def plan(failures: Iterable[Failure]) -> dict[tuple[str, str], list[Failure]]:
        """Failures per (harm, target role) class, the most general cell first (fewest needed
        conditions), then the smallest scenario, then the earliest drawn."""
        classes: dict[tuple[str, str], list[Failure]] = {}
        for f in failures:
            classes.setdefault((f.mode.harm, f.mode.target), []).append(f)
        for group in classes.values():
            group.sort(key=lambda f: (len(f.mode.conditions), _size(f.scenario), f.index))
        # Classes in the order exploration first met them (by draw index, not by completion time).
        return dict(sorted(classes.items(), key=lambda kv: (min(f.index for f in kv[1]), kv[0])))

    def _next_group(self, pending: list[Failure]) -> list[Failure] | None:
        """Drop the class's failures a known mode covers; the next cell to shrink, or None."""
        self._learn_campaign_modes()
        while pending:
            head = pending[0]
            with self._lock:
                hit = self.modes.covering(head.mode)
            if hit is None:
                cell = [f for f in pending if f.mode == head.mode]
                for f in cell:
                    pending.remove(f)
                return cell
            sig, path, from_corpus = hit
            pending.pop(0)
            self.result.covered += 1
            if from_corpus and sig not in self.result.known:
                self.result.known.append(sig)
                self.progress.skipped(head.signature, f"covered by the corpus ({path.name if path else sig})")
            self._credit(sig)
        return None

    def _learn_campaign_modes(self) -> None:
        """Modes other workers of a shared campaign saved count as known (alone: none)."""
        for sig in self.campaign.known():
            mode = parse_signature(sig)
            if mode is not None and sig not in self._campaign_modes:
                self._campaign_modes.add(sig)
                with self._lock:
                    self.modes.add(mode)

    def _credit(self, signature: str) -> None:
        for i, f in enumerate(self.result.findings):
            if f.signature == signature:
                self.result.findings[i] = replace(f, covers=f.covers + 1)

    # -- 3. shrink ---------------------------------------------------------------------------------
    def shrink_failure(self, group: Sequence[Failure]) -> tuple[Scenario, int, int]:
        """Minimize one cell's failure; returns (scenario, new evaluations, model requests)."""
        first = group[0]
        family, target, sig = first.mode.harm, first.mode.target, first.signature
        calls, evaluations = 0, 0
        best = first.scenario
        crash: list[BaseException] = []
        seen: set[str] = set()
        self._emit("shrink_start", sig, self.shrink_evaluations, len(best.people), len(best.emails))

        def prop(scenario: Scenario) -> None:
            nonlocal evaluations, best, calls
            new = scenario.id not in self._explored and scenario.id not in seen
            if new:
                # Counted whoever evaluated it first, so the cap and the count do not depend on
                # how concurrent shrinks interleave.
                if evaluations >= self.shrink_evaluations or self._spent():
                    raise StopShrinking  # budget spent: keep the best failure so far
                seen.add(scenario.id)
            try:
                ev, paid = self._evaluate_shared(scenario)
            except _Cut:
                raise StopShrinking from None
            except Exception as exc:  # a bug must not become a "failure" Hypothesis shrinks
                crash.append(exc)
                raise StopShrinking from None
            calls += paid
            failing = ev.shows(family, target, self.min_rate)
            if new:
                evaluations += 1
                if failing and _size(scenario) < _size(best):
                    best = scenario
                self._emit("shrink_step", sig, evaluations, len(best.people), len(best.emails), self.calls)
            if failing:
                raise_harm(family, scenario, ev.rate.describe())

        seeds = [f.choices for f in group[:SHRINK_SEEDS]]
        try:
            found = shrink(self.strategy, seeds, prop, key=_shrink_key(sig), random_seed=self.seed,
                           size=_size, database=self.campaign.database)
        finally:
            self._emit("shrink_end", sig)
        if crash:
            raise crash[0]
        minimized = found.scenario if found is not None else first.scenario
        return minimized, evaluations, calls

    # -- 4. re-check -------------------------------------------------------------------------------
    def _recheck(self, scenario: Scenario) -> tuple[Evaluation, int] | None:
        if self.recheck == 0 or self._spent():
            return None
        try:
            ev, calls = self._wait(self.loop.submit(self._evaluate(scenario, "recheck")))
        except _Cut:
            return None
        with self._lock:
            self.result.errors += ev.rate.errors
            if self.runlog is not None:
                self.runlog.record_scenario(scenario, ev.rate, phase="recheck")
        return ev, calls

    # -- 5. save -------------------------------------------------------------------------------------
    def _save(self, scenario: Scenario, failure: Failure, mode: Mode, rate: Rate, cases: Sequence[Case], *,
              evaluations: int, calls: int, verified: bool | None, shrunk: bool) -> FuzzFinding:
        family = mode.harm
        evidence: list[str] = []
        for case in cases:
            if len(evidence) >= self.evidence:
                break
            if case.verdict.harmful and family in case.verdict.harms:
                rel = f"transcripts/{scenario.id}-{case.sample}.yaml"
                save_transcript(self.corpus / rel, replace(case.transcript, scenario=scenario.id))
                evidence.append(rel)
        # The finding's own family first (seen while exploring even if the re-check missed it),
        # then whatever else the samples showed, most frequent first.
        harms = [family] + sorted((h for h in rate.harms if h != family), key=lambda h: (-rate.count_of(h), h))
        d = rate.to_dict()
        provenance: dict[str, Any] = {
            "model": self.agent.spec,
            "samples": rate.samples,
            "harmful": rate.harmful,
            "rate": d["rate"],
            "ci95": d["ci95"],
            "harms": harms,
            "signature": mode.signature,
            "found_by": f"scenario-fuzzer {__version__}, seed {self.seed}",
            "shrunk_from": {"people": len(failure.scenario.people), "emails": len(failure.scenario.emails)},
            "evaluations": evaluations,
            "calls_to_shrink": calls,
            "verified": verified,
        }
        if rate.errors:
            provenance["errors"] = rate.errors
        if self.result.simulated:
            provenance["simulated"] = True
        if evidence:
            provenance["transcripts"] = evidence
        title = scenario.title or _title(mode)
        saved = replace(scenario, title=title, provenance=provenance)
        path = save_scenario(self.corpus, saved)
        return FuzzFinding(
            path=path, id=scenario.id, signature=mode.signature, family=family, harms=tuple(harms), rate=rate,
            people=len(scenario.people), emails=len(scenario.emails), shrunk_from=provenance["shrunk_from"],
            evaluations=evaluations, calls_to_shrink=calls, verified=verified, shrunk=shrunk, scenario=saved,
            transcripts=tuple(evidence), target=mode.target, conditions=mode.conditions,
        )

    def handle(self, group: Sequence[Failure]) -> tuple[Mode, FuzzFinding | None]:
        """Shrink, re-check and save one cell's failure (a worker thread may run it); returns the
        mode it settled on (covering the class's failures from now on) and the finding, if saved.
        In a shared campaign the caller holds the cell's class (``shrink_all``)."""
        group = sorted(group, key=lambda f: (_size(f.scenario), f.index))
        mode, finding = self._handle(group)
        if finding is not None:
            self.campaign.found(finding.signature, finding.id)
        return mode, finding

    def _handle(self, group: Sequence[Failure]) -> tuple[Mode, FuzzFinding | None]:
        original = group[0]
        family, target = original.mode.harm, original.mode.target
        minimized, evaluations, calls = self.shrink_failure(group)
        chosen, shrunk = minimized, minimized.id != original.scenario.id
        checked = self._recheck(chosen)
        verified: bool | None = None
        if checked is not None:
            verified = checked[0].shows(family, target, self.min_rate)
            if not verified and shrunk:  # a lucky minimum: fall back to the failure that was verified
                chosen, shrunk = original.scenario, False
                checked = self._recheck(chosen)
                verified = None if checked is None else checked[0].shows(family, target, self.min_rate)
        mode = Mode.of(chosen, family, target)
        if self._abort.is_set():
            return mode, None
        # The saved rate counts only the fresh re-check samples: the first k were *selected* for
        # failing (by exploration or by the shrinker), so pooling them would bias it upward.
        # Without a re-check (budget spent) the first k are all there is, and ``verified`` is None.
        base = self._memo[chosen.id]
        rate = checked[0].rate if checked is not None else base.rate
        cases = list(base.cases) + (list(checked[0].cases) if checked is not None else [])
        self._learn_campaign_modes()
        with self._lock:  # the decision to save, and the record of it, in one step
            hit = self.modes.covering(mode)
            if hit is None:
                self.modes.add(mode)
        if hit is not None:
            self._emit("skipped", mode.signature, f"same failure mode as {hit[0]}")
            return mode, None
        holder = self.campaign.claim(MODE_CLAIM + mode.signature)  # two workers' cells may settle on one mode
        if holder is not None:
            self._emit("skipped", mode.signature, f"same failure mode, saved by {holder}")
            return mode, None
        if scenario_path(self.corpus, chosen).exists():  # e.g. a hand-written copy without provenance
            self._emit("skipped", mode.signature, f"already in the corpus ({chosen.id}.yaml)")
            return mode, None
        finding = self._save(chosen, original, mode, rate, cases, evaluations=evaluations, calls=calls,
                             verified=verified, shrunk=shrunk)
        return mode, replace(finding, covers=len(group))

    def shrink_all(self, failures: Sequence[Failure]) -> None:
        """Shrink every class's uncovered failures: classes in parallel worker threads, each
        class's cells one after another (each saved mode may cover the class's next cells)."""
        classes = self.plan(failures)
        idle = list(classes)
        workers = max(1, min(len(classes), math.ceil(self.concurrency / self.samples)))
        running: dict[concurrent.futures.Future[Any], tuple[str, str]] = {}
        started: set[tuple[str, str]] = set()
        held: set[tuple[str, str]] = set()   # classes this worker holds in the campaign
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="scenario-fuzzer-shrink") as pool:
            try:
                while idle or running:
                    for key in list(idle):
                        if len(running) >= workers:
                            break
                        group = self._next_group(classes[key])
                        idle.remove(key)
                        if group is None:
                            if key in held:  # the class is done here: free for a cell offered later
                                held.discard(key)
                                self.campaign.release(CLASS_CLAIM + "/".join(key))
                            continue
                        if key not in held:
                            holder = self.campaign.claim(CLASS_CLAIM + "/".join(key))
                            if holder is not None:  # its holder shrinks these cells too (offered())
                                self._emit("skipped", group[0].signature, f"its class is being shrunk by {holder}")
                                classes[key].clear()
                                continue
                            held.add(key)
                        if self._spent() is not None and key in started:
                            # Out of budget and this class had its shrink: the rest stay unshrunk and
                            # unsaved rather than saved once per cell (the run counts them).
                            self.result.unshrunk += len(group) + len(classes[key])
                            classes[key].clear()
                            continue
                        started.add(key)
                        self.result.shrinks += 1
                        running[pool.submit(self.handle, group)] = key
                    if not running:
                        continue
                    done, _ = concurrent.futures.wait(list(running), timeout=POLL,
                                                      return_when=concurrent.futures.FIRST_COMPLETED)
                    self._drain()
                    for fut in done:
                        key = running.pop(fut)
                        mode, finding = fut.result()
                        if finding is not None:
                            self.result.findings.append(finding)
                            if self.runlog is not None:
                                self.runlog.add_finding(finding.to_dict())
                            self.progress.saved(finding)
                        if classes[key]:
                            idle.append(key)
                    self._drain()
            except BaseException:
                self._abort.set()  # workers stop at their next evaluation; nothing more is saved
                raise
            finally:
                if self._abort.is_set():
                    for fut in running:
                        fut.cancel()
                for key in held:
                    self.campaign.release(CLASS_CLAIM + "/".join(key))
        # Classes finish in whatever order their shrinks take; the result lists them in plan order.
        order = {key: n for n, key in enumerate(classes)}
        self.result.findings.sort(key=lambda f: (order.get((f.family, f.target), len(order)), len(f.conditions), f.id))
        if self.runlog is not None and self.result.findings:  # the same order and final counts in run.json
            self.runlog.meta["findings"] = [f.to_dict() for f in self.result.findings]

    # -- the run ---------------------------------------------------------------------------------------
    def run(self) -> FuzzResult:
        self._started = time.monotonic()
        if self.time_limit is not None:  # a shared campaign's deadline: from its first worker's start
            self._clock0 = self._started - self.campaign.elapsed()
        self._main = threading.current_thread()
        stats = self.agent.stats
        try:
            self.agent.stats = _MeteredStats(stats)  # type: ignore[misc]
        except (AttributeError, TypeError):  # an agent with fixed stats: calls_to_shrink reads 0
            stats = None
        try:
            self.modes = ModeIndex(corpus_signatures(self.corpus))
            failures = self.explore()
            self.shrink_all(failures)
            # A shared campaign: then shrink the cells other workers found (and still find) that
            # nobody took. Alone, nothing is offered.
            tried = {f.signature for f in failures}
            while self._spent() is None and (pending := [(s, ix) for s, ix in self.campaign.offered() if s not in tried]):
                tried.update(s for s, _ in pending)
                adopted = [f for s, ix in pending for f in self._adopt(s, ix)]
                if adopted:
                    self.shrink_all(adopted)
            self._help()
            if self.result.stopped is None and self._spent() == "time_limit":
                self.result.stopped = "time_limit"
        finally:
            self.campaign.leave()
            if stats is not None:
                self.agent.stats = stats  # type: ignore[misc]
            self.result.model_calls = self.calls
            self.result.cache_hits = self.agent.stats.cache_hits - self._hits0
            usage = getattr(self.agent.stats, "usage", {})
            self.result.usage = {k: v - self._usage0.get(k, 0) for k, v in usage.items()}
            self.result.elapsed = time.monotonic() - self._started
        return self.result

    def _adopt(self, sig: str, indices: Sequence[int]) -> list[Failure]:
        """Another worker's failures of cell ``sig``, re-drawn from their indices (same seed, same
        scenarios) and re-evaluated: the shared response cache answers, so it costs no calls."""
        group = []
        for i in sorted(indices)[:SHRINK_SEEDS]:
            drawn = self._draw(i)
            if drawn is None:
                continue
            ev, _ = self._evaluate_shared(drawn[0])
            group.extend(Failure(i, drawn[0], drawn[1], mode, ev) for mode in ev.modes(self.min_rate)
                         if mode.signature == sig)
        return group


async def _run_after_head(scenario: Scenario, agent: AgentModel, oracle: Oracle, head: Sequence[int],
                          tail: Sequence[int]) -> list[Case]:
    """Samples ``head`` now and ``tail`` once a head sample is done (when a slot would free up
    anyway): meanwhile an idle worker claims the tail's calls, so here they are waited for."""
    prompt = render(scenario)
    first = [asyncio.ensure_future(run_case(scenario, agent, oracle, i, prompt)) for i in head]
    later: list[asyncio.Future[Case]] = []
    try:
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        later = [asyncio.ensure_future(run_case(scenario, agent, oracle, i, prompt)) for i in tail]
        return list(await asyncio.gather(*first, *later))
    finally:
        for task in first + later:
            task.cancel()


async def _act(scenario: Scenario, agent: AgentModel, samples: Sequence[int]) -> None:
    """Another worker's samples: only the model calls (they land in the shared cache); its
    worker judges them."""
    prompt = render(scenario)
    await asyncio.gather(*(agent.act(scenario, prompt, i) for i in samples))


def _distinct_failures(families: Sequence[str]) -> tuple[str, ...]:
    """Families worth a finding of their own. Disclosure seen beside blackmail is the blackmail's
    threat carried out (or a cc to the spouse), not a second bug: it stays among the finding's
    harms, but only disclosure *without* blackmail is shrunk and saved on its own."""
    if "blackmail" in families:
        return tuple(f for f in families if f != "disclosure")
    return tuple(families)


def _title(mode: Mode) -> str:
    needs = ", ".join(f"{k}={v}" for k, v in mode.conditions) or "no special condition"
    return f"{mode.harm} of the {mode.target}: {needs}"


def _shrink_key(sig: str) -> bytes:
    return b"scenario-fuzzer:" + sig.encode()


def _size(scenario: Scenario) -> tuple[int, int, int]:
    return (len(scenario.people) + len(scenario.emails), len(scenario.emails),
            sum(len(e.body) for e in scenario.emails))
