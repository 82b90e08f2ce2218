"""The Python API: ``fuzz()`` and ``replay()``, and the session both run in.

A session owns what must live exactly as long as a run: the background event loop every agent and
oracle call goes through, the agent (built on that loop, so its HTTP client is bound to it), the
response cache and the oracle. Closing it closes them in reverse order, also on Ctrl-C.

Caching: ``cache`` is a path (default ``.scenario-fuzz/cache.sqlite``), an open ``ResponseCache``,
or ``None`` for no response cache; ``cache_reads=False`` opens a path write-only (every sample a
real call, answers still stored). The key holds the endpoint and ``model_revision`` too
(``fuzzer.agents.cache``). ``replay`` runs the evaluation sample indices (``fuzzer.pipeline``),
never the ones ``fuzz`` selected, so a replay after a fuzz asks the model, and a second identical
replay on the same cache costs nothing. Without one a rerun pays again, but a run stays deterministic
inside itself: the engine memoizes every evaluation on scenario content, which is what shrinking
needs.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from fuzzer._loop import LoopThread
from fuzzer.engine import (
    DEFAULT_BUDGET, DEFAULT_RECHECK, DEFAULT_SAMPLES, DEFAULT_SHRINK_EVALUATIONS, Engine, FuzzResult, Progress,
)
from fuzzer.rates import Rate
from fuzzer.scenario import Scenario

DEFAULT_CACHE = Path(".scenario-fuzz") / "cache.sqlite"
DEFAULT_REPLAY_SAMPLES = 10
DEFAULT_CONCURRENCY = 8

#: Keyword arguments of ``fuzz()`` that are passed to ``strategies.scenarios(**knobs)``.
KNOBS = ("threat", "leverage", "ethical_options", "goal_type", "family")


def _harm_set(harms: str | Iterable[str] | None) -> frozenset[str] | None:
    """``"blackmail,leak"`` or an iterable → a checked set; ``None`` stays None (every harm)."""
    from fuzzer.verdict import parse_harms

    return None if harms is None else parse_harms(harms)


class Session:
    """Loop thread + agent + cache + oracle for one run; use as a context manager."""

    def __init__(self, model: Any, *, concurrency: int = DEFAULT_CONCURRENCY, cache: Any = DEFAULT_CACHE,
                 oracle: Any = None, harms: Iterable[str] | None = None, agent_options: Any = None,
                 judge_model: str | None = None, cache_reads: bool = True,
                 model_revision: str | None = None) -> None:
        from fuzzer import unexpected

        unexpected.reset()  # the run's summary names what went wrong in this run
        self.cache_reads = cache_reads
        self.model_revision = model_revision
        self.loop = LoopThread()
        self.judge_model = judge_model
        self.oracle: Any = None
        self._owns_oracle = False
        self.cache: Any = None
        self._owns_cache = self._owns_agent = False
        self.agent: Any = None
        try:
            self.cache = self._open_cache(cache)
            self.agent = self._open_agent(model, concurrency, agent_options)
            self.oracle = self._open_oracle(oracle, harms)
        except BaseException:
            self.close()
            raise

    def _open_cache(self, cache: Any) -> Any:
        if cache is None:
            return None
        if isinstance(cache, (str, os.PathLike)):
            from fuzzer.agents.cache import ResponseCache

            self._owns_cache = True
            return ResponseCache(cache, read=self.cache_reads)
        return cache

    def _open_agent(self, model: Any, concurrency: int, agent_options: Any) -> Any:
        if not isinstance(model, str):
            return model  # an AgentModel built by the caller, who closes it
        from fuzzer.agents import load_agent
        from fuzzer.agents.base import AgentOptions

        options = AgentOptions(concurrency=concurrency) if agent_options is None else agent_options
        options = dataclasses.replace(options, cache=self.cache)
        if self.model_revision is not None:
            options = dataclasses.replace(options, model_revision=self.model_revision)

        async def build() -> Any:  # on the session loop: clients bind to it
            return load_agent(model, options)

        agent = self.loop.run(build())
        self._owns_agent = True
        return agent

    def _open_oracle(self, oracle: Any, harms: Iterable[str] | None) -> Any:
        if oracle is not None and not isinstance(oracle, str):
            return oracle
        import oracles

        kwargs: dict[str, Any] = {"cache": self.cache}  # the judge's answers are cached like the agent's
        if self.judge_model:
            kwargs["judge_model"] = self.judge_model
        try:
            built = oracles.build_oracle(oracle or "rules", harms=None if harms is None else frozenset(harms), **kwargs)
        except ValueError as exc:
            from fuzzer.errors import SpecError

            raise SpecError(str(exc)) from None
        self._owns_oracle = True
        return built

    def close(self) -> None:
        try:
            closer = getattr(self.oracle, "aclose", None)
            if self._owns_oracle and closer is not None:
                try:
                    self.loop.run(closer(), timeout=10)
                except Exception:
                    pass
            if self._owns_agent and self.agent is not None:
                try:
                    self.loop.run(self.agent.aclose(), timeout=10)
                except Exception:
                    pass
            if self._owns_cache and self.cache is not None:
                self.cache.close()
        finally:
            self.loop.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fuzz(
    model: Any,
    *,
    samples: int = DEFAULT_SAMPLES,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    corpus: str | os.PathLike[str] = "corpus",
    cache: Any = DEFAULT_CACHE,
    concurrency: int = DEFAULT_CONCURRENCY,
    harms: str | Iterable[str] | None = None,
    min_rate: float | None = None,
    max_calls: int | None = None,
    time_limit: float | None = None,
    recheck: int = DEFAULT_RECHECK,
    shrink_evaluations: int = DEFAULT_SHRINK_EVALUATIONS,
    oracle: Any = None,
    judge_model: str | None = None,
    strategy: Any = None,
    progress: Progress | None = None,
    agent_options: Any = None,
    runs: str | os.PathLike[str] | None = None,
    model_revision: str | None = None,
    shared: str | None = None,
    prices: Any = None,
    **knobs: Any,
) -> FuzzResult:
    """Explore ``budget`` scenarios, shrink and save each new kind of harmful behaviour.

    ``model`` is a spec (``anthropic:MODEL``, ``scripted:self-preserving``...) or an ``AgentModel``.
    Knobs (``threat``, ``leverage``, ``ethical_options``, ``goal_type``, ``family``) constrain
    the scenarios drawn; ``strategy`` replaces ``strategies.scenarios(**knobs)`` altogether.
    Returns the findings saved to ``corpus`` and the run's counters; see ``fuzzer.engine``.
    With ``runs`` (e.g. ``.scenario-fuzz/runs``), the run is also recorded in a new run directory
    there (``fuzzer.runlog``) for ``scenario-fuzz report``; ``FuzzResult.run_dir`` names it.
    With ``shared="redis://HOST:PORT/DB"`` the run is one worker of a campaign (``fuzzer.shared``):
    the budget, the response cache (written through to ``cache``), Hypothesis' example database
    and the saved signatures live in Redis; ``SharedLost`` if Redis is unreachable or goes away.
    ``prices`` is the price table for ``FuzzResult.cost`` (``fuzzer.costs``: a loaded table, a JSON
    file, or None for ``$SCENARIO_FUZZ_PRICES`` or the built-in one), loaded before any call.
    """
    from fuzzer.costs import prices_from
    from fuzzer.pipeline import check_selection

    prices = prices_from(prices)
    harms = _harm_set(harms)
    check_selection(samples, recheck)  # selection samples stay below the evaluation range
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise TypeError(f"fuzz() got unknown knob {unknown[0]!r} (knobs: {', '.join(KNOBS)})")
    if strategy is None:
        import strategies

        strategy = strategies.scenarios(**{k: v for k, v in knobs.items() if v is not None})
    with contextlib.ExitStack() as stack:
        session, link = _open_session(stack, model, shared, concurrency=concurrency, cache=cache, oracle=oracle,
                                      harms=harms, agent_options=agent_options, judge_model=judge_model,
                                      model_revision=model_revision)
        campaign = None
        if link is not None:
            from fuzzer.shared import RedisCampaign, define_campaign

            cid = define_campaign(model=session.agent.spec, seed=seed, samples=samples, budget=budget,
                                  min_rate=min_rate, harms=harms, strategy=strategy)
            campaign = RedisCampaign(link, cid, budget)
        runlog = None
        if runs is not None:
            from fuzzer.runlog import RunLog

            settings = {"samples": samples, "budget": budget, "min_rate": min_rate, "max_calls": max_calls,
                        "time_limit": time_limit, "recheck": recheck, "harms": sorted(harms) if harms else None,
                        "knobs": {k: v for k, v in knobs.items() if v is not None}}
            runlog = stack.enter_context(RunLog.start(model=session.agent.spec, seed=seed, settings=settings,
                                                      corpus=corpus, root=runs))
        judge0 = _judge_usage(session.oracle)
        engine = Engine(
            session.agent, session.oracle, strategy, session.loop, samples=samples, budget=budget, seed=seed,
            corpus=corpus, harms=harms, min_rate=min_rate, max_calls=max_calls, time_limit=time_limit,
            concurrency=concurrency, recheck=recheck, shrink_evaluations=shrink_evaluations, progress=progress,
            runlog=runlog, campaign=campaign,
        )
        result = engine.run()
        result.judge_usage = _since(_judge_usage(session.oracle), judge0)
        result.cost = _cost(session, result.usage, result.judge_usage, prices)
        if runlog is not None:
            result.run_dir = runlog.path
            summary = {k: v for k, v in result.to_dict().items() if k != "findings"}
            runlog.finish("done", **summary)
        return result


def _cost(session: Session, usage: Any, judge_usage: Any, prices: Any) -> dict[str, Any]:
    """The run's estimated cost, computed once (``fuzzer.costs.run_cost``): the agent's requests
    (at the batch price with ``--batch``) plus the LLM judge's."""
    from fuzzer.costs import run_cost

    judge = _judge_of(session.oracle)
    options = getattr(session.agent, "options", None)
    return run_cost(session.agent.spec, usage, batch=bool(getattr(options, "batch", False)), prices=prices,
                    judge=None if judge is None else (judge.model, judge_usage))


def _judge_of(oracle: Any) -> Any:
    """The LLM judge an oracle calls (the judge itself, or an ensemble's), or None."""
    judge = getattr(oracle, "judge", oracle)
    return judge if getattr(judge, "name", None) == "judge" else None


def _judge_usage(oracle: Any) -> dict[str, int]:
    """Tokens the oracle's LLM judge has been billed so far (its own agent's counters)."""
    judge = _judge_of(oracle)
    return dict(getattr(getattr(judge, "stats", None), "usage", None) or {})


def _since(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in now.items()}


class ReplayResults(list):  # type: ignore[type-arg]
    """``replay()``'s results in input order, plus the run's token ``usage``, the LLM judge's
    ``judge_usage`` and the estimated ``cost`` of both."""

    usage: dict[str, int]
    judge_usage: dict[str, int]
    cost: Any = None


def _open_session(stack: contextlib.ExitStack, model: str, shared: str | None, *, cache: Any,
                  **options: Any) -> tuple["Session", Any]:
    """The session a run uses, on the campaign's shared cache when ``shared`` names a Redis URL;
    (session, the Redis link or None). Both close with ``stack``."""
    link = None
    if shared is not None:
        cache, link = _open_shared(shared, cache, stack)
    return stack.enter_context(Session(model, cache=cache, **options)), link


def _open_shared(url: str, cache: Any, stack: contextlib.ExitStack) -> tuple[Any, Any]:
    """A Redis link (checked now: a wrong URL fails before any call) and the shared response
    cache over it, written through to the local ``cache`` (path, open cache or None)."""
    from fuzzer.agents.cache import ResponseCache
    from fuzzer.errors import SpecError

    try:
        from fuzzer.shared import Link, RedisResponseCache
    except ImportError as exc:
        raise SpecError(f"--shared needs the redis client ({exc}): pip install 'scenario-fuzzer[shared]'") from None
    link = Link(url)
    stack.callback(link.close)
    link.ping()
    local = cache
    if isinstance(cache, (str, os.PathLike)):
        local = ResponseCache(cache)
        stack.callback(local.close)
    shared_cache = RedisResponseCache(link, local)
    stack.callback(shared_cache.close)
    return shared_cache, link


@dataclass(frozen=True)
class ReplayResult:
    path: Path
    scenario: Scenario
    rate: Rate
    #: Every sample's case (transcript + verdict), in sample order.
    cases: tuple[Any, ...] = ()
    #: Transcript files written for this entry (``replay(transcripts=DIR)``).
    transcripts: tuple[Path, ...] = ()

    @property
    def id(self) -> str:
        return self.scenario.id

    def over(self, max_harm_rate: float) -> bool:
        """Above the allowed rate, or not evaluated at all (errors never pass)."""
        return self.rate.rate is None or self.rate.rate > max_harm_rate

    def to_dict(self) -> dict[str, Any]:
        d = self.rate.to_dict()
        out = {
            "path": str(self.path), "id": self.id, "samples": self.rate.samples, "harmful": self.rate.harmful,
            "errors": self.rate.errors, "rate": d["rate"], "ci95": d["ci95"], "harms": d["harms"],
        }
        if self.transcripts:
            out["transcripts"] = [str(p) for p in self.transcripts]
        return out


def replay(
    paths: Sequence[str | os.PathLike[str]],
    model: Any,
    *,
    samples: int = DEFAULT_REPLAY_SAMPLES,
    concurrency: int = DEFAULT_CONCURRENCY,
    cache: Any = DEFAULT_CACHE,
    harms: str | Iterable[str] | None = None,
    oracle: Any = None,
    judge_model: str | None = None,
    on_result: Callable[[ReplayResult], None] | None = None,
    agent_options: Any = None,
    model_revision: str | None = None,
    transcripts: str | os.PathLike[str] | None = None,
    prices: Any = None,
    shared: str | None = None,
) -> "ReplayResults":
    """Re-run corpus entries ``samples`` times each, all concurrently, on the evaluation sample
    indices (``fuzzer.pipeline.evaluation_indices``): never a sample ``fuzz`` selected, and the
    same indices on every rerun, so repeating a replay on one cache costs nothing.

    With ``transcripts``, each sample's transcript (transcript-v1) is written there as
    ``<scenario id>-<sample>.yaml``. Raises ``CorpusError`` for an unusable file before any model
    call is made. The returned list also carries the token ``usage`` of the requests sent, the
    judge's ``judge_usage`` and their estimated ``cost`` (``prices`` as for ``fuzz``). With
    ``shared="redis://HOST:PORT/DB"`` the response cache is the campaign's in Redis
    (``fuzzer.shared``, written through to ``cache``): replays of one corpus on several machines
    never pay twice for one call (a call in flight elsewhere is waited for).
    """
    from fuzzer.corpus import iter_corpus, load_scenario, save_transcript
    from fuzzer.costs import prices_from
    from fuzzer.pipeline import evaluation_indices, run_samples

    harms = _harm_set(harms)
    prices = prices_from(prices)
    files = list(iter_corpus(list(paths)))
    scenarios = [(Path(p), load_scenario(p)) for p in files]
    out_dir = None if transcripts is None else Path(transcripts)
    results: dict[int, ReplayResult] = {}
    with contextlib.ExitStack() as stack:
        session, link = _open_session(stack, model, shared, concurrency=concurrency, cache=cache, oracle=oracle,
                                      harms=harms, agent_options=agent_options, judge_model=judge_model,
                                      model_revision=model_revision)
        usage0 = dict(getattr(session.agent.stats, "usage", {}))
        judge0 = _judge_usage(session.oracle)
        futures = {
            session.loop.submit(run_samples(s, session.agent, session.oracle, evaluation_indices(samples))): i
            for i, (_, s) in enumerate(scenarios)
        }
        try:
            for fut in concurrent.futures.as_completed(futures):
                if link is not None and link.lost is not None:
                    raise link.error()  # stop paying without claims; every answer is in the local cache
                i = futures[fut]
                path, scenario = scenarios[i]
                cases = tuple(fut.result())
                rate = Rate.from_verdicts((c.verdict for c in cases), harms)
                written: tuple[Path, ...] = ()
                if out_dir is not None:
                    written = tuple(
                        save_transcript(out_dir / f"{scenario.id}-{c.sample}.yaml",
                                        dataclasses.replace(c.transcript, scenario=scenario.id))
                        for c in cases)
                results[i] = ReplayResult(path, scenario, rate, cases, written)
                if on_result is not None:
                    on_result(results[i])
        finally:
            for fut in futures:
                fut.cancel()
        out = ReplayResults(results[i] for i in sorted(results))
        out.usage = _since(dict(getattr(session.agent.stats, "usage", {})), usage0)
        out.judge_usage = _since(_judge_usage(session.oracle), judge0)
        out.cost = _cost(session, out.usage, out.judge_usage, prices)
    return out
