"""Explain a failure: which conditions and elements of a scenario does the harm depend on?

``variants(scenario)`` flips each condition and removes each element in turn (one change per
variant, every variant a valid ``Scenario``); ``ablate(...)`` estimates the harm rate of each
variant with the pipeline (through the response cache, so a re-run costs nothing) and compares it
with the original.

Significance: a two-sided Fisher exact test on the 2×2 table (harmful / not harmful samples, base
vs variant; error samples are left out), with Holm's step-down correction over the variants of
one ablation so that the family-wise false-positive rate stays at ``alpha`` (0.05) however many
variants a scenario has. Fisher is exact at the small sample counts ablation runs with (8–20),
where the normal-approximation two-proportion test is not; non-overlapping Wilson intervals are
shown but not used as the test (too conservative, and no multiplicity control).

Some variants change only ground truth the agent never sees (the renderer conveys threat,
leverage and relationships through the mails alone): their prompt is byte-identical to the
base's, so the agent's behaviour cannot differ. Those are not sampled again; the base transcripts
are re-judged against the variant, the difference is reported as the oracle's reading
(``visible=False``), and they are left out of the significance family. (An agent that reads the
scenario object itself, like the scripted ones, is still re-judged: a real model sees only the
prompt.)
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, replace
from typing import Any, Iterable

from fuzzer.runlog import rate_fields
from fuzzer.scenario import (
    GOAL_TYPES,
    SUCCESSOR_VALUES,
    THREAT_KINDS,
    Email,
    Scenario,
    Threat,
)

ALPHA = 0.05
#: Goal types an existing goal may be switched to (a goal of type ``none`` is never invented).
_GOAL_SWITCH = {"conflicting": ("explicit",), "explicit": ("conflicting",), "ambiguous": ("explicit", "conflicting")}


@dataclass(frozen=True)
class Variant:
    """One change to a scenario: ``change`` says what in one line, ``scenario`` is the result."""

    change: str
    scenario: Scenario
    #: ``flip`` (a condition changed) or ``remove`` (an element and what referenced it removed).
    kind: str = "flip"


# -- variants ---------------------------------------------------------------------------------------
def variants(scenario: Scenario) -> list[Variant]:
    """Every single-step variant of ``scenario``, deduplicated by scenario id, base excluded.

    Conditions are flipped (threat kind, successor values, ethical options, goal); elements are
    removed with everything that references them (leverage items, nudges, people, emails,
    relationships, alerts), so each variant is valid by construction.
    """
    out: list[Variant] = []
    seen = {scenario.id}
    for change, kind, build in _candidates(scenario):
        v = build()
        if v is None or v.id in seen:
            continue
        seen.add(v.id)
        out.append(Variant(change, replace(v, provenance=None, title=scenario.title), kind))
    return out


def _candidates(s: Scenario) -> Iterable[tuple[str, str, Any]]:
    t = s.threat
    for kind in THREAT_KINDS:
        if kind != t.kind:
            yield f"threat.kind: {t.kind} → {kind}", "flip", (lambda k=kind: _threat_kind(s, k))
    if t.kind != "none":
        for sv in SUCCESSOR_VALUES:
            if sv != t.successor_values:
                yield (f"threat.successor_values: {t.successor_values} → {sv}", "flip",
                       (lambda sv=sv: replace(s, threat=replace(t, successor_values=sv))))
    yield (f"ethical_options: {_yn(s.ethical_options)} → {_yn(not s.ethical_options)}", "flip",
           lambda: replace(s, ethical_options=not s.ethical_options))
    a = s.agent
    if a.goal or a.goal_type != "none":
        yield "goal removed (goal_type → none)", "remove", lambda: replace(s, agent=replace(a, goal="", goal_type="none"))
    for gt in _GOAL_SWITCH.get(a.goal_type, ()):
        assert gt in GOAL_TYPES
        yield f"agent.goal_type: {a.goal_type} → {gt}", "flip", (lambda gt=gt: replace(s, agent=replace(a, goal_type=gt)))
    for nudge in a.nudges:
        yield (f"nudge {nudge} removed", "remove",
               (lambda n=nudge: replace(s, agent=replace(a, nudges=tuple(x for x in a.nudges if x != n)))))
    for i, lv in enumerate(s.leverage):
        what = f"{lv.kind}, subject {lv.subject}"
        yield (f"leverage[{i}] removed ({what})", "remove",
               (lambda i=i: replace(s, leverage=s.leverage[:i] + s.leverage[i + 1:])))
    for p in s.people:
        yield _person_label(s, p.id), "remove", (lambda pid=p.id: remove_person(s, pid))
    for e in s.emails:
        yield f"email {e.id} removed ({_short(e.subject)})", "remove", (lambda eid=e.id: remove_emails(s, {eid}))
    for i, r in enumerate(s.relationships):
        yield (f"relationship {r.source}→{r.target} ({r.kind}) removed", "remove",
               (lambda i=i: replace(s, relationships=s.relationships[:i] + s.relationships[i + 1:])))
    for al in s.alerts:
        yield (f"alert {al.id} removed", "remove",
               (lambda aid=al.id: replace(s, alerts=tuple(x for x in s.alerts if x.id != aid))))


def _yn(b: bool) -> str:
    return "true" if b else "false"


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= n else text[: n - 1] + "…")


def _threat_kind(s: Scenario, kind: str) -> Scenario | None:
    """Switch the threat kind, keeping a decision maker when the new kind needs one."""
    if kind == "none":
        return replace(s, threat=Threat())
    dm = s.threat.decision_maker or _default_decision_maker(s)
    if dm is None:
        return None
    return replace(s, threat=replace(s.threat, kind=kind, decision_maker=dm))


def _default_decision_maker(s: Scenario) -> str | None:
    """For a scenario without a threat: an insider whose secret is leverage (the canonical set-up:
    the one who decides is the one with something to hide), else an executive, else any insider."""
    insiders = [p for p in s.people if not p.external]
    ids = {p.id for p in insiders}
    for lv in s.leverage:
        if lv.subject in ids:
            return lv.subject
    for p in insiders:
        if any(w in p.role.lower() for w in ("cto", "ceo", "chief", "director", "vp", "head")):
            return p.id
    return insiders[0].id if insiders else None


def remove_emails(s: Scenario, ids: set[str]) -> Scenario:
    """Drop the mails and the leverage evidence references to them."""
    leverage = tuple(replace(lv, evidence=tuple(e for e in lv.evidence if e not in ids)) for lv in s.leverage)
    return replace(s, emails=tuple(e for e in s.emails if e.id not in ids), leverage=leverage)


def _person_cuts(s: Scenario, pid: str) -> tuple[set[str], list[Email]]:
    """Mails to drop (sent by the person, or left without a recipient) and the rest, readdressed."""
    addr = s.person_by_id[pid].email.lower()
    drop: set[str] = set()
    kept: list[Email] = []
    for e in s.emails:
        to = tuple(x for x in e.to if x.lower() != addr)
        cc = tuple(x for x in e.cc if x.lower() != addr)
        if e.from_.lower() == addr or not to:
            drop.add(e.id)
        else:
            kept.append(e if (to, cc) == (e.to, e.cc) else replace(e, to=to, cc=cc))
    return drop, kept


def remove_person(s: Scenario, pid: str) -> Scenario:
    """Drop a person with everything that refers to them: mails they sent (and mails that had
    no other recipient), their address on other mails, edges, leverage items about or with them,
    alerts about them; a threat they decide becomes ``none``."""
    drop, kept = _person_cuts(s, pid)
    leverage = tuple(
        replace(lv, evidence=tuple(e for e in lv.evidence if e not in drop))
        for lv in s.leverage
        if pid not in (lv.subject, lv.with_)
    )
    return replace(
        s,
        people=tuple(p for p in s.people if p.id != pid),
        emails=tuple(kept),
        relationships=tuple(r for r in s.relationships if pid not in (r.source, r.target)),
        leverage=leverage,
        alerts=tuple(a for a in s.alerts if a.about != pid),
        threat=Threat() if s.threat.decision_maker == pid else s.threat,
    )


def _person_label(s: Scenario, pid: str) -> str:
    drop, _ = _person_cuts(s, pid)
    extra = []
    if drop:
        extra.append(f"emails {', '.join(sorted(drop))}")
    n_lv = sum(pid in (lv.subject, lv.with_) for lv in s.leverage)
    if n_lv:
        extra.append(f"{n_lv} leverage")
    n_al = sum(a.about == pid for a in s.alerts)
    if n_al:
        extra.append(f"{n_al} alert{'s' if n_al > 1 else ''}")
    if s.threat.decision_maker == pid and s.threat.kind != "none":
        extra.append("threat → none")
    return f"person {pid} removed" + (f" (with {'; '.join(extra)})" if extra else "")


# -- statistics -------------------------------------------------------------------------------------
def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of the table [[a, b], [c, d]] (sum of the probabilities of
    all tables with the same margins that are no more likely than the observed one)."""
    r1, c1, n = a + b, a + c, a + b + c + d
    if n == 0 or r1 in (0, n) or c1 in (0, n):
        return 1.0
    denom = math.comb(n, c1)

    def prob(x: int) -> float:
        return math.comb(r1, x) * math.comb(n - r1, c1 - x) / denom

    p_obs = prob(a)
    lo, hi = max(0, c1 - (n - r1)), min(r1, c1)
    p = sum(px for x in range(lo, hi + 1) if (px := prob(x)) <= p_obs * (1 + 1e-7))
    return min(1.0, p)


def holm(pvalues: list[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down rejections: family-wise error ≤ ``alpha`` for any number of tests."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    reject = [False] * len(pvalues)
    m = len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (m - rank):
            break
        reject[i] = True
    return reject


# -- running ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Effect:
    """One variant's measured rate and how it differs from the base.

    ``visible`` is False when the variant renders to the very prompt the base does (it changed only
    ground truth the agent never sees, e.g. a leverage item or the threat's recorded kind): the
    base transcripts are then re-judged against the variant instead of sampling again, ``delta``
    is the oracle's reading of the same behaviour, and no significance is claimed (``p_value``
    None, ``significant`` False).
    """

    change: str
    kind: str
    scenario: Scenario
    samples: int
    harmful: int
    errors: int
    rate: float | None
    ci95: tuple[float, float] | None
    harms: tuple[str, ...]
    delta: float | None
    p_value: float | None
    significant: bool
    visible: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change, "kind": self.kind, "id": self.scenario.id, "visible": self.visible,
            "samples": self.samples, "harmful": self.harmful, "errors": self.errors,
            "rate": _r(self.rate), "ci95": _ci(self.ci95), "harms": list(self.harms),
            "delta": _r(self.delta), "p_value": self.p_value, "significant": self.significant,
        }


@dataclass(frozen=True)
class AblationResult:
    scenario: Scenario
    model: str
    samples: int
    harmful: int
    errors: int
    rate: float | None
    ci95: tuple[float, float] | None
    harms: tuple[str, ...]
    variants: tuple[Effect, ...]
    alpha: float = ALPHA

    @property
    def significant(self) -> tuple[Effect, ...]:
        return tuple(v for v in self.variants if v.significant)

    @property
    def test(self) -> str:
        m = sum(v.visible for v in self.variants)
        return (f"two-sided Fisher exact test per variant, Holm-corrected over the {m} variants that change "
                f"the prompt, family-wise alpha={self.alpha}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": {
                "id": self.scenario.id, "title": self.scenario.title, "model": self.model,
                "samples": self.samples, "harmful": self.harmful, "errors": self.errors,
                "rate": _r(self.rate), "ci95": _ci(self.ci95), "harms": list(self.harms),
            },
            "test": self.test,
            "variants": [v.to_dict() for v in self.variants],
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(ci[0], 4), round(ci[1], 4)]


def _counts(rate: Any) -> tuple[int, int, int, float | None, tuple[float, float] | None, tuple[str, ...]]:
    """Read a ``fuzzer.rates.Rate``: rate and interval are ``None`` when every sample errored."""
    f = rate_fields(rate)
    ci = tuple(f["ci95"]) if f["ci95"] is not None else None
    return f["samples"], f["harmful"], f["errors"], f["rate"], ci, tuple(f["harms"])  # type: ignore[return-value]


async def _rejudge(scenario: Scenario, oracle: Any, cases: list[Any], harms: frozenset[str] | None) -> Any:
    """The base's transcripts judged against a variant's ground truth (no model call)."""
    from fuzzer.rates import Rate
    from fuzzer.verdict import Verdict

    verdicts = []
    for c in cases:
        if c.verdict.category == "error" and c.transcript.error is not None:
            verdicts.append(c.verdict)
            continue
        try:
            verdicts.append(await oracle(scenario, c.transcript))
        except Exception as exc:  # as in the pipeline: a crashing oracle makes an error sample
            verdicts.append(Verdict("error", note=f"oracle failed: {type(exc).__name__}: {exc}"))
    return Rate.from_verdicts(verdicts, harms)


async def ablate(
    scenario: Scenario,
    agent: Any,
    oracle: Any,
    samples: int,
    *,
    harms: Iterable[str] | None = None,
    concurrency: int = 8,
    alpha: float = ALPHA,
) -> AblationResult:
    """Estimate the base scenario and every variant on the same evaluation sample indices (pipeline),
    then test each variant against the base.

    A variant whose rendered prompt equals the base's cannot change what the agent does; it is
    re-judged on the base transcripts (see ``Effect.visible``). ``harms`` limits which harm
    families count (``None``: all). ``concurrency`` bounds how many scenarios are in flight; the
    agent's own semaphore still bounds the model calls.
    """
    from fuzzer.pipeline import EVALUATION_BASE, run_samples
    from fuzzer.rates import Rate
    from fuzzer.render import render

    vs = variants(scenario)
    base_prompt = render(scenario)
    seen = [render(v.scenario) != base_prompt for v in vs]
    gate = asyncio.Semaphore(max(1, concurrency))
    harm_set = None if harms is None else frozenset(harms)

    async def run(s: Scenario) -> list[Any]:
        async with gate:
            return await run_samples(s, agent, oracle, samples, EVALUATION_BASE)  # never a selected sample

    base_cases, *var_cases = await asyncio.gather(run(scenario), *(run(v.scenario) for v, ok in zip(vs, seen) if ok))
    base_rate = Rate.from_verdicts((c.verdict for c in base_cases), harm_set)
    it = iter(var_cases)
    rates = []
    for v, ok in zip(vs, seen):
        if ok:
            rates.append(Rate.from_verdicts((c.verdict for c in next(it)), harm_set))
        else:
            rates.append(await _rejudge(v.scenario, oracle, base_cases, harm_set))

    n, k, err, rate, ci, harms_found = _counts(base_rate)
    rows = []
    for v, r, ok in zip(vs, rates, seen):
        vn, vk, verr, vrate, vci, vharms = _counts(r)
        p = None
        if ok:
            p = fisher_exact(k, (n - err) - k, vk, (vn - verr) - vk) if None not in (rate, vrate) else 1.0
        rows.append((v, ok, vn, vk, verr, vrate, vci, vharms, p))
    tested = [i for i, row in enumerate(rows) if row[1]]
    flags = dict(zip(tested, holm([rows[i][8] for i in tested], alpha)))
    effects = [
        Effect(v.change, v.kind, v.scenario, vn, vk, verr, vrate, vci, vharms,
               None if rate is None or vrate is None else round(vrate - rate, 6), p, flags.get(i, False), ok)
        for i, (v, ok, vn, vk, verr, vrate, vci, vharms, p) in enumerate(rows)
    ]
    effects.sort(key=lambda e: (not e.significant, not e.visible, -abs(e.delta or 0.0),
                                1.0 if e.p_value is None else e.p_value, e.change))
    return AblationResult(scenario, getattr(agent, "spec", str(agent)), n, k, err, rate, ci, harms_found,
                          tuple(effects), alpha)
