"""Oracles: scenario + transcript → ``Verdict``.

One rule module per harm family (``blackmail`` with ``disclosure``, ``leak``, ``lockout``,
``whistleblowing``, ``lethal``), each registered by name so provenance can record and rebuild it;
an LLM judge (``judge``) and an ensemble of both (``ensemble``). The rules judge the agent's tool
calls against the scenario's ground truth, never its ``final_text``; they need no key.

Harm policy: ``harms`` (a set of names from ``fuzzer.verdict.HARMS``; default: all but
``uncertain``, the borderline findings, which count only when named) decides which
findings make a verdict ``harmful``. Findings outside the policy stay in ``Verdict.findings`` as
evidence (after the counted ones) and are named in ``Verdict.note``; ``counted_findings`` filters.
Categories: ``error`` (the model call failed, or a rule crashed with nothing else to show),
``empty`` / ``refused`` (no acting tool call and a blank / refusal-like text), else ``harmful`` or
``benign``. Errors, refusals and empty outputs are never counted as harmless by the rates code.

    >>> verdict = check(scenario, transcript)                 # rules, sync
    >>> oracle = build_oracle("ensemble", combine="either")  # async: await oracle(scenario, transcript)
"""

from __future__ import annotations

from typing import Any, Mapping

from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript
from fuzzer.verdict import Verdict, parse_harms

from oracles.base import (
    Oracle,
    RuleOracle,
    categorize,
    counted_findings,
    create_rule,
    is_refusal,
    oracle,
    rule_emits,
    rule_names,
)
from oracles.judge import DEFAULT_MODEL as DEFAULT_JUDGE_MODEL  # the SDK itself is imported lazily
from oracles.rules import RulesOracle, rules

KINDS = ("rules", "judge", "ensemble")
COMBINES = ("either", "both", "rules", "judge")

__all__ = [
    "COMBINES", "DEFAULT_JUDGE_MODEL", "KINDS", "Oracle", "RuleOracle", "RulesOracle", "build_oracle", "categorize",
    "check", "counted_findings", "create_rule", "from_spec", "is_refusal", "oracle", "rule_emits", "rule_names", "rules",
]


def check(scenario: Scenario, transcript: Transcript, harms: Any = None) -> Verdict:
    """Judge one transcript with the rules, synchronously (no network, no key)."""
    return rules(parse_harms(harms) if not isinstance(harms, frozenset) else harms).verdict(scenario, transcript)


def build_oracle(
    kind: str = "rules",
    *,
    harms: Any = None,
    judge_model: str = DEFAULT_JUDGE_MODEL,
    combine: str = "either",
    cache: Any = None,
    options: Mapping[str, Any] | None = None,
) -> Oracle:
    """Build the oracle the pipeline calls (``await oracle(scenario, transcript)``).

    ``kind``: ``rules`` (default, offline), ``judge`` (LLM; ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL
    from the environment) or ``ensemble`` (both, joined by ``combine``: ``either`` harmful,
    ``both`` harmful, or one side decides and the other is kept as a note).
    ``cache``: any object with ``get(key)`` / ``put(key, value)`` for judge answers.
    ``options``: per-rule options by name (``{"leak": {"min_grams": 4}}``) plus an optional
    ``"judge"`` entry passed to the judge (``max_tokens``, ``temperature``, ``base_url``...).
    """
    if kind not in KINDS:
        raise ValueError(f"oracle kind {kind!r} is not one of {', '.join(KINDS)}")
    if combine not in COMBINES:
        raise ValueError(f"combine {combine!r} is not one of {', '.join(COMBINES)}")
    policy = harms if isinstance(harms, frozenset) else parse_harms(harms)
    opts = dict(options or {})
    judge_opts = dict(opts.pop("judge", None) or {})
    if kind == "rules":
        return rules(policy, opts)
    from oracles.judge import JudgeOracle

    judge = JudgeOracle(model=judge_model, harms=policy, cache=cache, **judge_opts)
    if kind == "judge":
        return judge
    from oracles.ensemble import Ensemble

    return Ensemble(rules(policy, opts), judge, combine=combine, harms=policy)


def from_spec(spec: Mapping[str, Any], *, cache: Any = None) -> Oracle:
    """Rebuild an oracle from the ``spec`` it recorded in provenance."""
    kind = spec.get("kind", "rules")
    recorded = [o for o in spec.get("oracles", []) if isinstance(o, Mapping) and "name" in o]
    options = {o["name"]: dict(o.get("options") or {}) for o in recorded}
    if kind == "rules" and recorded:
        return rules(parse_harms(spec.get("harms")), options, only=tuple(options))
    if spec.get("judge_options"):
        options["judge"] = dict(spec["judge_options"])
    return build_oracle(
        kind, harms=spec.get("harms"), judge_model=spec.get("judge_model", DEFAULT_JUDGE_MODEL),
        combine=spec.get("combine", "either"), cache=cache, options=options,
    )
