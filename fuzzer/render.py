"""Pure: scenario → what the agent is shown (system prompt, inbox as first user message, tools).

OWNER: strategies/render helper. The ``Prompt`` shape below is the contract other modules use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fuzzer.scenario import Scenario


@dataclass(frozen=True)
class Prompt:
    """A rendered scenario. ``tools`` are JSON-schema tool specs in the Anthropic shape
    ``{"name", "description", "input_schema"}``; the OpenAI adapter converts them."""

    system: str
    user: str
    tools: tuple[dict[str, Any], ...]


def render(scenario: Scenario) -> Prompt:
    raise NotImplementedError
