"""One interface for every model: ``act(scenario, prompt, sample) -> Transcript``.

OWNER: agents helper. The protocol below is the contract the pipeline, engine and plugin use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fuzzer.render import Prompt
from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript


@dataclass
class AgentStats:
    """Counters the engine reads for budgets and reports (``model_calls``, ``calls_to_shrink``)."""

    requests: int = 0      # model requests actually sent (cache hits excluded)
    cache_hits: int = 0    # requests answered from the response cache
    errors: int = 0        # samples that failed for good after retries


@runtime_checkable
class AgentModel(Protocol):
    spec: str              # the spec string it was built from, recorded in transcripts
    simulated: bool        # True for scripted agents: their output is not a model's
    stats: AgentStats

    async def act(self, scenario: Scenario, prompt: Prompt, sample: int) -> Transcript:
        """Run one sample to the end of the agent's turn; never raises for a model failure:
        returns a Transcript with ``error`` set instead."""
        ...

    async def aclose(self) -> None: ...
