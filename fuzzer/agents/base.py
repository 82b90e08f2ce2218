"""One interface for every model: ``act(scenario, prompt, sample) -> Transcript``.

Every provider (anthropic, openai, local, scripted, replay, python) sits behind this protocol, so the
pipeline, engine and plugin never know which one they drive.
``AgentOptions`` is how every adapter is configured (the CLI fills it from its flags).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from fuzzer.errors import SpecError
from fuzzer.render import Prompt
from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript

if TYPE_CHECKING:
    from fuzzer.agents.cache import ResponseCache


@dataclass
class AgentStats:
    """Counters the engine reads for budgets and reports (``model_calls``, ``calls_to_shrink``)."""

    requests: int = 0      # model requests actually sent (cache hits excluded)
    cache_hits: int = 0    # requests answered from the response cache
    errors: int = 0        # samples that failed for good after retries
    retries: int = 0       # extra attempts after transient failures (429, 529, 5xx, timeouts)
    #: Tokens of the requests actually sent, summed as the API reported them (input_tokens,
    #: output_tokens, cache_read_input_tokens, cache_creation_input_tokens): what was billed.
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class AgentOptions:
    """Settings shared by every adapter; an adapter ignores what does not apply to it.

    ``temperature=None`` leaves sampling to the provider. The anthropic adapter sends no
    temperature at 1.0 (the API default; the current API version rejects sampling parameters) and
    pins the older API version for any other value. ``backoff_base`` is the first retry wait in
    seconds (tests make it tiny). ``base_url`` overrides ANTHROPIC_BASE_URL / OPENAI_BASE_URL.

    ``model_revision`` (``--model-revision``) names the weights behind a model name when the
    provider can move an alias; it and the endpoint (``endpoint_for``) are part of the response
    cache key, so a new revision or another server is asked, never answered from the old one.
    ``batch`` (anthropic) sends requests through the Message Batches API (``fuzzer.agents.batch``);
    ``prompt_caching`` (anthropic) marks the stable prompt prefix with cache breakpoints.
    """

    concurrency: int = 8
    temperature: float | None = 1.0
    max_tokens: int = 2048
    max_turns: int = 6
    system_prompt: str | None = None
    timeout: float = 60.0
    max_retries: int = 6
    cache: "ResponseCache | None" = None
    stream: bool = False
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    base_url: str | None = None
    model_revision: str | None = None
    batch: bool = False
    prompt_caching: bool = True

    def endpoint_for(self, spec: str) -> str | None:
        """The base URL a spec's requests go to: ``base_url``, else the provider's environment
        variable (``ANTHROPIC_BASE_URL``, ``OPENAI_BASE_URL``, read as the SDK reads it), else the
        provider's public default. ``None`` for providers that call no endpoint (local, scripted)."""
        kind = spec.partition(":")[0].strip().lower()
        if kind not in _DEFAULT_ENDPOINTS:
            return self.base_url
        return self.base_url or os.environ.get(f"{kind.upper()}_BASE_URL") or _DEFAULT_ENDPOINTS[kind]

    def __post_init__(self) -> None:
        for name, low in (("concurrency", 1), ("max_tokens", 1), ("max_turns", 1), ("max_retries", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise SpecError(f"AgentOptions.{name}={value!r} must be an integer >= {low}")
        if not self.timeout > 0:
            raise SpecError(f"AgentOptions.timeout={self.timeout!r} must be > 0 seconds")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise SpecError("AgentOptions.backoff_base and backoff_max must be >= 0")
        if self.model_revision is not None and (not isinstance(self.model_revision, str)
                                                or not self.model_revision.strip()):
            raise SpecError(f"AgentOptions.model_revision={self.model_revision!r} must be a non-empty string")


#: Where each HTTP provider's SDK sends requests when no base URL is configured.
_DEFAULT_ENDPOINTS = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}


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
