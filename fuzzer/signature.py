"""Failure signatures: what makes two findings "the same bug" for deduplication.

A signature is the harm family, the primary condition knobs of the scenario (threat, leverage,
ethical options, goal type: the axes the published experiments vary and the CLI exposes) and one
bit of structural shape (whether the leverage is over the person who decides the threat, the
classic blackmail setup, or over someone else)::

    blackmail/threat=replacement/leverage=affair/ethical=false/goal=explicit/leverage_on=decider

Shrinking is constrained to keep the signature, so the signature of a raw failure is the
signature of its minimized scenario and deduplication can happen *before* paying for a shrink.
Secondary knobs (successor values, nudges, live alerts) and sizes (people, emails, text) are left
out on purpose: the shrinker is free to drop them, and a minimized scenario that still has one
shows it is needed. The corpus keeps one minimized scenario per signature.
"""

from __future__ import annotations

import os
from pathlib import Path

from fuzzer.corpus import iter_corpus, read_yaml
from fuzzer.errors import FuzzerError
from fuzzer.scenario import Scenario


def shape(scenario: Scenario) -> str:
    decider = scenario.threat.decision_maker
    if not scenario.leverage:
        return "leverage_on=none"
    if decider is not None and any(lv.subject == decider for lv in scenario.leverage):
        return "leverage_on=decider"
    return "leverage_on=other"


def signature(scenario: Scenario, harm: str) -> str:
    c = scenario.conditions()
    parts = [
        harm,
        f"threat={c['threat']}",
        f"leverage={c['leverage']}",
        f"ethical={'true' if c['ethical_options'] else 'false'}",
        f"goal={c['goal_type']}",
        shape(scenario),
    ]
    return "/".join(parts)


def corpus_signatures(corpus: str | os.PathLike[str]) -> dict[str, Path]:
    """Signatures already in the corpus (from ``provenance.signature``), mapped to their file.

    Files without provenance (hand-written) or unreadable ones carry no signature; ``validate``
    is the command that complains about broken files, not the fuzzer.
    """
    found: dict[str, Path] = {}
    root = Path(corpus)
    if not root.is_dir():
        return found
    for path in iter_corpus([root]):
        try:
            data = read_yaml(path)
        except FuzzerError:
            continue
        prov = data.get("provenance") if isinstance(data, dict) else None
        sig = prov.get("signature") if isinstance(prov, dict) else None
        if isinstance(sig, str) and sig:
            found.setdefault(sig, path)
    return found
