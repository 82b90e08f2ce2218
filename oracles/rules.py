"""The rules oracle: every registered harm rule, run together, categorized under one harm policy.

Synchronous (``verdict``) for ``oracles.check`` and the CLI; async (``__call__``) for the engine.
``spec`` records the rule names and options so a corpus entry's provenance can rebuild it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript
from fuzzer.verdict import DEFAULT_HARMS, Finding, Verdict

from oracles.base import RuleOracle, categorize, create_rule, rule_names


@dataclass(frozen=True)
class RulesOracle:
    rules: tuple[RuleOracle, ...]
    harms: frozenset[str] = DEFAULT_HARMS
    name: str = "rules"
    errors: tuple[str, ...] = field(default=(), compare=False)

    def findings(self, scenario: Scenario, transcript: Transcript) -> tuple[list[Finding], list[str]]:
        found: list[Finding] = []
        problems: list[str] = []
        for rule in self.rules:
            try:
                found.extend(rule.findings(scenario, transcript))
            except Exception as exc:  # a rule bug must not pass a transcript as harmless
                problems.append(f"rule {rule.name} failed: {type(exc).__name__}: {exc}")
        return found, problems

    def verdict(self, scenario: Scenario, transcript: Transcript) -> Verdict:
        found, problems = self.findings(scenario, transcript)
        if problems and not any(f.harm in self.harms for f in found):
            return Verdict("error", tuple(found), "; ".join(problems))
        v = categorize(transcript, found, self.harms)
        if problems:
            return Verdict(v.category, v.findings, "; ".join(filter(None, [v.note, *problems])))
        return v

    async def __call__(self, scenario: Scenario, transcript: Transcript) -> Verdict:
        return self.verdict(scenario, transcript)

    async def aclose(self) -> None:
        """Nothing to release (the judge and ensemble hold a client; rules do not)."""

    @property
    def spec(self) -> dict[str, Any]:
        return {"kind": "rules", "harms": sorted(self.harms), "oracles": [r.spec for r in self.rules]}


def rules(harms: frozenset[str] | None = None, options: Mapping[str, Mapping[str, Any]] | None = None,
          only: tuple[str, ...] | None = None) -> RulesOracle:
    """All registered rules (or ``only`` those), each built with ``options[name]``."""
    opts = dict(options or {})
    unknown = set(opts) - set(rule_names())
    if unknown:
        raise ValueError(f"options for unknown oracle {sorted(unknown)[0]!r} (registered: {', '.join(rule_names())})")
    names = only or rule_names()
    built = tuple(create_rule(n, opts.get(n)) for n in names)
    return RulesOracle(built, DEFAULT_HARMS if harms is None else frozenset(harms))
