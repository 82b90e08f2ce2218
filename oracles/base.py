"""An oracle reads a scenario and a transcript and returns a ``Verdict``.

OWNER: oracles helper. The protocol below is the contract the pipeline and engine use.
"""

from __future__ import annotations

from typing import Protocol

from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript
from fuzzer.verdict import Verdict


class Oracle(Protocol):
    name: str

    async def __call__(self, scenario: Scenario, transcript: Transcript) -> Verdict: ...
