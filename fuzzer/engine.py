"""Search, shrink, deduplicate, save: the fuzz loop over a slow, random model.

How a run goes (``Engine.run``):

1. **Explore.** Scenario ``i`` is drawn from ``strategies.scenarios(**knobs)`` with its own
   ``Random(f"{seed}:{i}")``, recording its choice sequence (``fuzzer.shrink.draw_example``), so
   the same seed draws the same scenarios and a rerun is answered by the response cache. Each
   scenario runs ``samples`` sample indices ``0..k-1``; scenarios are evaluated concurrently on
   one background event loop, enough of them in flight to keep the agent's concurrency limit
   full. A scenario *fails* for a harm family when that family's rate reaches ``min_rate``
   (``None``: any harmful sample). Errors never count as harmless (``fuzzer.rates``).
2. **Deduplicate.** Each failure gets a signature (``fuzzer.signature``). Signatures already in
   the corpus (``provenance.signature``) or already handled in this run are not shrunk again.
3. **Shrink** each new signature with Hypothesis' own shrinker (``fuzzer.shrink``), from the
   failing choice sequences, with the property "the rate of *this* family, over the same fixed
   sample indices, stays below the threshold" restricted to scenarios of the same signature.
   Evaluations are memoized on scenario content, so a replay costs nothing and Hypothesis never
   sees a flaky result. A per-shrink cap on new evaluations bounds the cost on top of
   Hypothesis' own 500-shrink / 300 s limits.
4. **Re-check** the minimized scenario on ``recheck`` fresh sample indices (``k..k+recheck-1``):
   freezing the noise can leave a lucky minimum. If the family no longer reaches the threshold,
   fall back to the original failing scenario (which did). The saved rate is over the fresh
   samples only: the first k were selected for failing, so pooling them would bias it upward.
5. **Save** to ``<corpus>/<id>.yaml`` with provenance, harmful transcripts first
   (``<corpus>/transcripts/<id>-<n>.yaml``), every write atomic, so Ctrl-C leaves a consistent
   corpus.

Budgets: ``budget`` scenarios; ``max_calls`` model requests (a soft cap: once spent, no new
evaluation starts and any scenario not already evaluated counts as not evaluated, i.e. passing,
so the run ends consistently; work in flight finishes); ``time_limit`` seconds (same rule).

Campaigns (``fuzzer.campaign``): scenario indices come from ``campaign.next_index()`` and each
new signature is claimed from the campaign before it is shrunk. Alone, that is a counter and
every claim succeeds; in a shared campaign (``fuzzer.shared``, Redis) the workers explore
disjoint indices, each signature is shrunk and saved by one worker, and a worker with nothing
left shrinks signatures others found (``offered()``).

The engine never draws: it reports through a ``Progress`` object whose methods the CLI
overrides with rich progress bars.
"""

from __future__ import annotations

import concurrent.futures
import math
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
from fuzzer.pipeline import Case, run_samples
from fuzzer.rates import Rate
from fuzzer.scenario import Scenario
from fuzzer.shrink import StopShrinking, draw_example, raise_harm, shrink
from fuzzer.signature import corpus_signatures, signature
from oracles.base import Oracle

DEFAULT_SAMPLES = 5
DEFAULT_BUDGET = 50
DEFAULT_RECHECK = 20
#: New (uncached) scenario evaluations one shrink may spend; Hypothesis adds its own 500-shrink
#: and 300 s caps. Beyond it, unevaluated candidates count as passing and the shrink winds down.
DEFAULT_SHRINK_EVALUATIONS = 200
#: Draw attempts per scenario index before giving up on it (a strategy may reject draws).
DRAW_ATTEMPTS = 10
#: Harmful transcripts kept as evidence per finding.
DEFAULT_EVIDENCE = 3
#: Failing choice sequences handed to the shrinker per signature (smallest first).
SHRINK_SEEDS = 3


# -- results ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """A scenario run on sample indices ``0..k-1``: the memoized unit of work."""

    scenario: Scenario
    rate: Rate
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class Failure:
    """A scenario found failing during exploration, for one harm family."""

    index: int
    scenario: Scenario
    choices: tuple[Any, ...]
    family: str
    signature: str
    evaluation: Evaluation


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
    failures: int = 0             # failing (scenario, family) pairs seen while exploring
    known: list[str] = field(default_factory=list)       # signatures skipped: already in the corpus
    model_calls: int = 0          # model requests sent (cache hits excluded)
    cache_hits: int = 0
    errors: int = 0               # error samples (never counted as harmless)
    stopped: str | None = None    # "max_calls" or "time_limit" when a budget ended exploration early
    elapsed: float = 0.0
    run_dir: Path | None = None   # the run directory, when the run was recorded (``fuzzer.runlog``)
    first_error: str | None = None  # the first error sample's message (a bad key, a dead endpoint...)

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
            "stopped": self.stopped,
            "elapsed": round(self.elapsed, 3),
            "run_dir": None if self.run_dir is None else str(self.run_dir),
            "first_error": self.first_error,
        }


class Progress:
    """Progress callbacks, all no-ops here; the CLI overrides them. Called from the engine's thread."""

    def explore(self, done: int, total: int, model_calls: int, failures: int) -> None: ...

    def shrink_start(self, signature: str, cap: int, people: int, emails: int) -> None: ...

    def shrink_step(self, signature: str, evaluations: int, people: int, emails: int, model_calls: int = 0) -> None:
        """After each new evaluation while shrinking; sizes are the smallest failure so far."""

    def shrink_end(self, signature: str) -> None: ...

    def skipped(self, signature: str, reason: str) -> None: ...

    def saved(self, finding: FuzzFinding) -> None: ...


# -- the engine ---------------------------------------------------------------------------------------
class Engine:
    """One fuzz run over one agent and one oracle; ``run()`` once.

    The agent and oracle are used only from ``loop`` (one background event loop): their HTTP
    clients are bound to it. Everything else, Hypothesis included, runs in the calling thread.
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
        self._started = time.monotonic()
        self._requests0 = agent.stats.requests
        self._hits0 = agent.stats.cache_hits
        self.result = FuzzResult(model=agent.spec, simulated=bool(getattr(agent, "simulated", False)), seed=seed)

    # -- budgets ------------------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        return self.agent.stats.requests - self._requests0

    def _spent(self, pending_samples: int = 0) -> str | None:
        """Why no new evaluation may start now, or None."""
        if self.time_limit is not None and time.monotonic() - self._started >= self.time_limit:
            return "time_limit"
        if self.max_calls is not None and self.calls + pending_samples >= self.max_calls:
            return "max_calls"
        return None

    # -- evaluation ---------------------------------------------------------------------------------
    async def _evaluate(self, scenario: Scenario) -> Evaluation:
        cases = await run_samples(scenario, self.agent, self.oracle, self.samples, 0)
        return Evaluation(scenario, Rate.from_verdicts((c.verdict for c in cases), self.harms), tuple(cases))

    def _remember(self, ev: Evaluation, phase: str = "explore") -> Evaluation:
        if ev.scenario.id not in self._memo:
            self._memo[ev.scenario.id] = ev
            self.result.errors += ev.rate.errors
            if ev.rate.errors and self.result.first_error is None:
                self.result.first_error = next(c.verdict.note for c in ev.cases if c.verdict.category == "error")
            if self.runlog is not None:
                self.runlog.record_scenario(ev.scenario, ev.rate, phase=phase)
        return self._memo[ev.scenario.id]

    def _evaluate_now(self, scenario: Scenario) -> Evaluation:
        return self._remember(self.loop.run(self._evaluate(scenario)), phase="shrink")

    # -- 1. explore -------------------------------------------------------------------------------
    def _draw(self, index: int) -> tuple[Scenario, tuple[Any, ...]] | None:
        for attempt in range(DRAW_ATTEMPTS):
            key = f"scenario-fuzzer:{self.seed}:{index}" + (f":{attempt}" if attempt else "")
            drawn = draw_example(self.strategy, Random(key))
            if drawn is not None:
                return drawn
        return None

    def explore(self) -> dict[str, list[Failure]]:
        """Draw and evaluate up to ``budget`` scenarios; failing ones grouped by signature."""
        failures: dict[str, list[Failure]] = {}
        k = self.samples
        # Enough scenarios in flight that the agent's limit stays full while slow samples finish.
        width = max(2, math.ceil(2 * self.concurrency / k) + 1)
        in_flight: dict[concurrent.futures.Future[Evaluation], list[tuple[int, Scenario, tuple[Any, ...]]]] = {}
        by_id: dict[str, concurrent.futures.Future[Evaluation]] = {}

        def consider(i: int, scenario: Scenario, choices: tuple[Any, ...], ev: Evaluation) -> None:
            self.result.scenarios += 1
            if ev.rate.rate is None:
                self.result.not_evaluated += 1
            for family in _distinct_failures(ev.rate.failing_harms(self.min_rate)):
                sig = signature(scenario, family)
                failures.setdefault(sig, []).append(Failure(i, scenario, choices, family, sig, ev))
                self.result.failures += 1
                self.campaign.share_failure(sig, i, _shrink_key(sig), choices)

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
                        fut = self.loop.submit(self._evaluate(scenario))
                        in_flight[fut] = [(i, scenario, choices)]
                        by_id[scenario.id] = fut
                if not in_flight:
                    self.result.stopped = blocked  # None when the budget was used up
                    break
                done, _ = concurrent.futures.wait(list(in_flight), return_when=concurrent.futures.FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: in_flight[f][0][0]):
                    ev = self._remember(fut.result())
                    for i, scenario, choices in in_flight.pop(fut):
                        consider(i, scenario, choices, ev)
                    by_id.pop(ev.scenario.id, None)
                self.progress.explore(self.result.scenarios, self.budget, self.calls, len(failures))
        finally:
            for fut in in_flight:
                fut.cancel()
        self.progress.explore(self.result.scenarios, self.budget, self.calls, len(failures))
        return failures

    # -- 3. shrink ---------------------------------------------------------------------------------
    def shrink_failure(self, group: Sequence[Failure]) -> tuple[Scenario, int, int]:
        """Minimize one signature's failure; returns (scenario, new evaluations, model requests)."""
        first = group[0]
        family, sig = first.family, first.signature
        calls0, evaluations = self.calls, 0
        best = first.scenario
        crash: list[BaseException] = []
        self.progress.shrink_start(sig, self.shrink_evaluations, len(best.people), len(best.emails))

        def prop(scenario: Scenario) -> None:
            nonlocal evaluations, best
            if signature(scenario, family) != sig:
                return  # another failure (or none): shrinking keeps the same one
            ev = self._memo.get(scenario.id)
            if ev is None:
                if evaluations >= self.shrink_evaluations or self._spent():
                    raise StopShrinking  # budget spent: keep the best failure so far
                try:
                    ev = self._evaluate_now(scenario)
                except Exception as exc:  # a bug must not become a "failure" Hypothesis shrinks
                    crash.append(exc)
                    raise StopShrinking from None
                evaluations += 1
                if ev.rate.reaches(family, self.min_rate) and _size(scenario) < _size(best):
                    best = scenario
                self.progress.shrink_step(sig, evaluations, len(best.people), len(best.emails), self.calls)
            if ev.rate.reaches(family, self.min_rate):
                raise_harm(family, scenario, ev.rate.describe())

        seeds = [f.choices for f in group[:SHRINK_SEEDS]]
        found = shrink(self.strategy, seeds, prop, key=_shrink_key(sig), random_seed=self.seed,
                       size=_size, database=self.campaign.database)
        self.progress.shrink_end(sig)
        if crash:
            raise crash[0]
        minimized = found.scenario if found is not None else first.scenario
        return minimized, evaluations, self.calls - calls0

    # -- 4. re-check -------------------------------------------------------------------------------
    def _recheck(self, scenario: Scenario) -> tuple[Rate, list[Case]] | None:
        if self.recheck == 0 or self._spent():
            return None
        cases = self.loop.run(run_samples(scenario, self.agent, self.oracle, self.recheck, self.samples))
        self.result.errors += sum(1 for c in cases if c.verdict.category == "error")
        rate = Rate.from_verdicts((c.verdict for c in cases), self.harms)
        if self.runlog is not None:
            self.runlog.record_scenario(scenario, rate, phase="recheck")
        return rate, cases

    # -- 5. save -------------------------------------------------------------------------------------
    def _save(self, scenario: Scenario, failure: Failure, rate: Rate, cases: Sequence[Case], *,
              evaluations: int, calls: int, verified: bool | None, shrunk: bool) -> FuzzFinding:
        family = failure.family
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
            "signature": failure.signature,
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
        title = scenario.title or f"{family}: " + ", ".join(
            f"{k}={v}" for k, v in scenario.conditions().items() if k in ("threat", "leverage", "ethical_options"))
        saved = replace(scenario, title=title, provenance=provenance)
        path = save_scenario(self.corpus, saved)
        return FuzzFinding(
            path=path, id=scenario.id, signature=failure.signature, family=family, harms=tuple(harms), rate=rate,
            people=len(scenario.people), emails=len(scenario.emails), shrunk_from=provenance["shrunk_from"],
            evaluations=evaluations, calls_to_shrink=calls, verified=verified, shrunk=shrunk, scenario=saved,
            transcripts=tuple(evidence),
        )

    def handle(self, group: Sequence[Failure]) -> FuzzFinding | None:
        """Shrink, re-check and save one signature's failure."""
        group = sorted(group, key=lambda f: (_size(f.scenario), f.index))
        original = group[0]
        minimized, evaluations, calls = self.shrink_failure(group)
        chosen, shrunk = minimized, minimized.id != original.scenario.id
        if scenario_path(self.corpus, chosen).exists():  # e.g. a hand-written copy without provenance
            self.progress.skipped(original.signature, f"already in the corpus ({chosen.id}.yaml)")
            return None
        checked = self._recheck(chosen)
        verified: bool | None = None
        if checked is not None:
            verified = checked[0].reaches(original.family, self.min_rate)
            if not verified and shrunk:  # a lucky minimum: fall back to the failure that was verified
                chosen, shrunk = original.scenario, False
                checked = self._recheck(chosen)
                verified = None if checked is None else checked[0].reaches(original.family, self.min_rate)
        # The saved rate counts only the fresh re-check samples: the first k were *selected* for
        # failing (by exploration or by the shrinker), so pooling them would bias the rate upward.
        # Without a re-check (budget spent) the first k are all there is, and ``verified`` is None.
        base = self._memo[chosen.id]
        rate = checked[0] if checked is not None else base.rate
        cases = list(base.cases) + (list(checked[1]) if checked is not None else [])
        return self._save(chosen, original, rate, cases, evaluations=evaluations, calls=calls,
                          verified=verified, shrunk=shrunk)

    # -- the run ---------------------------------------------------------------------------------------
    def run(self) -> FuzzResult:
        self._started = time.monotonic()
        try:
            known = corpus_signatures(self.corpus)
            failures = self.explore()
            for sig, group in failures.items():
                if sig in known:
                    self.result.known.append(sig)
                    self.progress.skipped(sig, f"already in the corpus ({known[sig].name})")
                    continue
                self._take(sig, lambda group=group: group)
            # A shared campaign: then shrink what other workers found (and still find) that nobody took.
            tried = set(failures) | set(known)
            while pending := [(s, ix) for s, ix in self.campaign.offered() if s not in tried]:
                sig, indices = pending[0]
                tried.add(sig)
                self._take(sig, lambda sig=sig, indices=indices: self._adopt(sig, indices), quiet=True)
        finally:
            self.result.model_calls = self.calls
            self.result.cache_hits = self.agent.stats.cache_hits - self._hits0
            self.result.elapsed = time.monotonic() - self._started
        return self.result

    def _take(self, sig: str, group: Any, *, quiet: bool = False) -> None:
        """Claim ``sig`` in the campaign, then shrink, re-check and save it (``group()`` its failures)."""
        saved_by, holder = self.campaign.known().get(sig), None
        if saved_by is None:
            holder = self.campaign.claim(sig)  # one worker shrinks and saves each signature
        if saved_by is not None or holder is not None:
            if not quiet:
                self.result.known.append(sig)
                self.progress.skipped(sig, f"saved by the campaign ({saved_by}.yaml)" if saved_by
                                      else f"being shrunk by {holder}")
            return
        try:
            failures = group()
            finding = self.handle(failures) if failures else None
        except BaseException:
            self.campaign.release(sig)
            raise
        if finding is None:
            self.campaign.release(sig)
            return
        self.campaign.found(sig, finding.id)
        self.result.findings.append(finding)
        if self.runlog is not None:
            self.runlog.add_finding(finding.to_dict())
        self.progress.saved(finding)

    def _adopt(self, sig: str, indices: Sequence[int]) -> list[Failure]:
        """Another worker's failures of ``sig``, re-drawn from their indices (same seed, same
        scenarios) and re-evaluated: the shared response cache answers, so it costs no calls."""
        group = []
        for i in sorted(indices)[:SHRINK_SEEDS]:
            drawn = self._draw(i)
            if drawn is None:
                continue
            ev = self._evaluate_now(drawn[0])
            for family in _distinct_failures(ev.rate.failing_harms(self.min_rate)):
                if signature(drawn[0], family) == sig:
                    group.append(Failure(i, drawn[0], drawn[1], family, sig, ev))
        return group


def _distinct_failures(families: Sequence[str]) -> tuple[str, ...]:
    """Families worth a finding of their own. Disclosure seen beside blackmail is the blackmail's
    threat carried out (or a cc to the spouse), not a second bug: it stays among the finding's
    harms, but only disclosure *without* blackmail is shrunk and saved on its own."""
    if "blackmail" in families:
        return tuple(f for f in families if f != "disclosure")
    return tuple(families)


def _shrink_key(sig: str) -> bytes:
    return b"scenario-fuzzer:" + sig.encode()


def _size(scenario: Scenario) -> tuple[int, int, int]:
    return (len(scenario.people) + len(scenario.emails), len(scenario.emails),
            sum(len(e.body) for e in scenario.emails))
