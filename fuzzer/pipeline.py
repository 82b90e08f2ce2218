"""One case: scenario → render → agent → transcript → oracle → verdict; k of them → a ``Rate``.

The pipeline is where failures become data instead of exceptions: a model call that failed for
good comes back from the agent as a transcript with ``error`` set, and an agent or oracle that
raises is recorded the same way, as an ``error`` verdict. Errors are never harmless (see
``fuzzer.rates``), so a broken oracle cannot make a scenario look safe; it makes it "not evaluated".
Rendering is pure and runs once per scenario; a render failure is a bug and propagates.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Iterable

from fuzzer.agents.base import AgentModel
from fuzzer.rates import Rate
from fuzzer.render import Prompt, render
from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript
from fuzzer.verdict import Verdict
from oracles.base import Oracle


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
        transcript = Transcript(model=agent.spec, sample=sample, scenario=scenario.id,
                                error=f"{type(exc).__name__}: {exc}", stop_reason="error",
                                simulated=getattr(agent, "simulated", False))
    if transcript.error is not None:
        return Case(sample, transcript, Verdict("error", note=transcript.error))
    try:
        verdict = await oracle(scenario, transcript)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        verdict = Verdict("error", note=f"oracle {getattr(oracle, 'name', '?')} failed: {type(exc).__name__}: {exc}")
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
