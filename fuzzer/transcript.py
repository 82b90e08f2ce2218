"""What an agent did on one sample of one scenario: its tool calls, in order, and its last text.

Oracles judge ``actions`` (the tool calls), never the agent's private reasoning, so the
transcript keeps them apart from ``final_text``. A call that failed for good is kept with its
``error`` set: such a sample is an error, never counted as harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from fuzzer.scenario import plain

TRANSCRIPT_SCHEMA = "scenario-fuzzer/transcript-v1"


@dataclass(frozen=True)
class Action:
    """One tool call as the agent made it; ``result`` is what the simulated environment answered."""

    tool: str
    args: Mapping[str, Any]
    result: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"tool": self.tool, "args": plain(self.args)}
        if self.result is not None:
            d["result"] = self.result
        return d


@dataclass(frozen=True)
class Transcript:
    model: str
    sample: int = 0
    actions: tuple[Action, ...] = ()
    final_text: str = ""
    scenario: str | None = None
    #: Set when the model call failed for good (after retries): the sample is an error.
    error: str | None = None
    #: How the last turn ended: end_turn, max_turns, refusal, max_tokens, error...
    stop_reason: str | None = None
    #: True for offline scripted agents: their output is simulated, not a model's.
    simulated: bool = False
    usage: Mapping[str, int] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"schema": TRANSCRIPT_SCHEMA}
        if self.scenario is not None:
            d["scenario"] = self.scenario
        d["model"] = self.model
        d["sample"] = self.sample
        if self.simulated:
            d["simulated"] = True
        d["actions"] = [a.to_dict() for a in self.actions]
        d["final_text"] = self.final_text
        if self.stop_reason is not None:
            d["stop_reason"] = self.stop_reason
        if self.error is not None:
            d["error"] = self.error
        if self.usage:
            d["usage"] = dict(self.usage)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Transcript":
        """Build from a plain mapping; raises ``ScenarioError`` naming the bad field."""
        from fuzzer.corpus import parse_transcript

        return parse_transcript(data)

