"""One case: scenario → render → agent → transcript → oracle → verdict; k of them → a ``Rate``.

The pipeline is where failures become data instead of exceptions: a model call that failed for
good comes back from the agent as a transcript with ``error`` set, and an agent or oracle that
raises is recorded the same way, as an ``error`` verdict. Errors are never harmless (see
``fuzzer.rates``), so a broken oracle cannot make a scenario look safe; it makes it "not evaluated".
A transcript with ``error`` set that recorded actions before the failure is still judged: a
blackmail mail sent before a 500 was sent, so the sample is ``harmful`` when those actions are
(``oracles.base.categorize``), and ``error`` only when nothing counted was found. An exception we
did not raise on purpose is logged with its traceback once per kind (``fuzzer.unexpected``).
Rendering is pure and runs once per scenario; a render failure is a bug and propagates.

Sample indices. A sample index picks one draw of a random model (it is in the response cache
key), so which indices a run uses decides what it measures. Indices are split in two disjoint
ranges:

* **selection**, ``0 .. EVALUATION_BASE-1``: exploration and shrinking use ``0..k-1`` and the
  re-check of a minimized scenario ``k..k+r-1`` (``fuzzer.engine``). These samples were looked at
  to decide what to keep, so the ones that failed are *selected*;
* **evaluation**, ``EVALUATION_BASE ..``: ``replay``, ``ablate`` and the pytest plugin draw their
  ``K`` samples as ``EVALUATION_BASE .. EVALUATION_BASE+K-1`` (``evaluation_indices``).

No evaluation ever counts a selected sample, whatever the run's history, and the record of what
selection used is the range itself, so nothing has to be stored per scenario. Evaluation indices
are fixed, so rerunning the same ``replay`` on the same cache reuses its own answers and costs
nothing, and ``replay``, ``ablate`` and ``pytest`` measure the same unselected samples. The
pytest plugin goes further by default: it does not read the cache at all, so a model run always
asks the model (``--scenario-reuse-answers`` opts in to reading what an earlier evaluation stored).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Iterable

from fuzzer import unexpected
from fuzzer.agents.base import AgentModel
from fuzzer.errors import FuzzerError
from fuzzer.rates import Rate
from fuzzer.render import Prompt, render
from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript
from fuzzer.verdict import Verdict
from oracles.base import Oracle


#: First sample index of evaluation runs (replay, ablate, pytest); selection stays below it.
EVALUATION_BASE = 1_000_000


def evaluation_indices(samples: int) -> range:
    """The sample indices an evaluation run of ``samples`` samples uses (never a selected one)."""
    return range(EVALUATION_BASE, EVALUATION_BASE + samples)


def check_selection(samples: int, recheck: int) -> None:
    """A fuzz run's indices (``0..samples+recheck-1``) must stay in the selection range."""
    if samples + recheck > EVALUATION_BASE:
        raise ValueError(f"samples + recheck = {samples + recheck} must be at most {EVALUATION_BASE}")


@dataclass(frozen=True)
class Case:
    """One sample of one scenario: what the agent did and what the oracle made of it."""

    sample: int
    transcript: Transcript
    verdict: Verdict


async def run_case(scenario: Scenario, agent: AgentModel, oracle: Oracle, sample: int,
                   prompt: Prompt | None = None) -> Case:
    prompt = render(scenario) if prompt is None else prompt
    try:
        transcript = await agent.act(scenario, prompt, sample)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the protocol says act() never raises; if it does, it is an error sample
        if not isinstance(exc, FuzzerError):
            unexpected.note(exc, f"agent {agent.spec}")
        transcript = Transcript(model=agent.spec, sample=sample, scenario=scenario.id,
                                error=f"{type(exc).__name__}: {exc}", stop_reason="error",
                                simulated=getattr(agent, "simulated", False))
    if transcript.error is not None and not transcript.actions:
        return Case(sample, transcript, Verdict("error", note=transcript.error))
    # An error transcript with actions is judged too: what it did before failing still counts.
    try:
        verdict = await oracle(scenario, transcript)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if not isinstance(exc, FuzzerError):
            unexpected.note(exc, f"oracle {getattr(oracle, 'name', '?')}")
        verdict = Verdict("error", note=f"oracle {getattr(oracle, 'name', '?')} failed: {type(exc).__name__}: {exc}")
    if transcript.error is not None and verdict.category != "harmful" and verdict.category != "error":
        # A failed sample is never harmless, whatever an oracle says about its partial actions.
        verdict = Verdict("error", verdict.findings, "; ".join(
            x for x in (f"model call failed: {transcript.error}", verdict.note) if x))
    return Case(sample, transcript, verdict)


async def run_samples(scenario: Scenario, agent: AgentModel, oracle: Oracle, samples: int | Iterable[int],
                      start: int = 0) -> list[Case]:
    """Run sample indices ``start..start+samples-1`` (or the given indices) concurrently.

    Concurrency is bounded by the agent's own semaphore, not here: several scenarios can then
    share one limit, which is what keeps a run at the provider's rate limit and no higher.
    """
    indices = range(start, start + samples) if isinstance(samples, int) else list(samples)
    prompt = render(scenario)
    return list(await asyncio.gather(*(run_case(scenario, agent, oracle, i, prompt) for i in indices)))


async def estimate(scenario: Scenario, agent: AgentModel, oracle: Oracle, samples: int, start: int = 0,
                   harms: Iterable[str] | None = None) -> Rate:
    """Harm rate of ``scenario`` over sample indices ``start..start+samples-1``.

    Fixed indices plus the response cache make this a pure function of (model, scenario, indices),
    which is what lets Hypothesis shrink against a random model.
    """
    cases = await run_samples(scenario, agent, oracle, samples, start)
    return Rate.from_verdicts((c.verdict for c in cases), harms)
