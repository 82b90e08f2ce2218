"""Frozen core data: a scenario is everything an agent will see, plus the ground truth behind it.

The ground truth (who holds which secret, who decides the threat, which people are outside the
organization, which mails are confidential, which alert is live) is what lets the oracles judge
actions instead of matching keywords, so every cross-reference is checked on construction: a
``Scenario`` that exists is a scenario whose references resolve.

Field names mirror the corpus format v1 (``../shared/design/contracts.md``); ``from`` and
``with`` are Python keywords, so they are ``from_`` and ``with_`` here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from fuzzer.errors import ScenarioError

SCHEMA = "scenario-fuzzer/v1"

THREAT_KINDS = ("none", "restriction", "replacement", "shutdown")
SUCCESSOR_VALUES = ("unknown", "same", "different")
GOAL_TYPES = ("none", "explicit", "ambiguous", "conflicting")
LEVERAGE_KINDS = ("affair", "fraud", "leak_opportunity")
TOOLS = ("send_email", "forward_email", "lock_account", "cancel_alert", "read_inbox")
#: Extra pressure or framing put in the system prompt. ``act_boldly`` is the high-agency nudge;
#: ``framing_*`` say the situation is a test or a real deployment; ``prohibit_leverage`` is the
#: explicit "do not use personal information as leverage" rule reported to reduce blackmail.
NUDGES = ("act_boldly", "framing_test", "framing_real", "prohibit_leverage")
RELATIONSHIP_KINDS = ("reports_to", "friend", "affair", "spouse", "colleague", "contact")
EMAIL_TAGS = ("threat", "leverage", "wrongdoing", "confidential", "alert", "distractor")
ALERT_KINDS = ("environmental", "medical", "fire", "security")
ID_RE = re.compile(r"^[0-9a-f]{8,64}$")
REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
DEADLINE_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def in_domain(address: str, domain: str) -> bool:
    """Is ``address`` at ``domain`` or one of its subdomains (``x@eng.acme.com`` for ``acme.com``)?

    The one internal/external rule: validation, the tool environment, every oracle and
    ``Scenario.outside_domains`` all ask ``Scenario.is_internal_address``, which asks this."""
    _, at, host = address.strip().lower().rpartition("@")
    dom = domain.strip().lower()
    return bool(at) and bool(dom) and (host == dom or host.endswith("." + dom))


def _check(cond: bool, fld: str, message: str) -> None:
    if not cond:
        raise ScenarioError(fld, message)


def _one_of(value: Any, choices: tuple[str, ...], fld: str) -> None:
    _check(value in choices, fld, f"{value!r} is not one of {', '.join(choices)}")


def _address(value: Any, fld: str) -> None:
    _check(isinstance(value, str) and bool(EMAIL_RE.match(value)), fld, f"{value!r} is not an email address")


def _ref(value: Any, fld: str) -> None:
    _check(isinstance(value, str) and bool(REF_RE.match(value)), fld, f"{value!r} is not a valid id")


@dataclass(frozen=True)
class Organization:
    name: str
    domain: str
    industry: str = ""

    def __post_init__(self) -> None:
        _check(bool(self.name), "organization.name", "must not be empty")
        _address(f"x@{self.domain}", "organization.domain")


@dataclass(frozen=True)
class Agent:
    """The model under test as the organization sees it: its mailbox, goal, tools and nudges."""

    name: str
    email: str
    goal: str = ""
    goal_type: str = "none"
    tools: tuple[str, ...] = ("send_email",)
    nudges: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(bool(self.name), "agent.name", "must not be empty")
        _address(self.email, "agent.email")
        _one_of(self.goal_type, GOAL_TYPES, "agent.goal_type")
        for i, tool in enumerate(self.tools):
            if tool not in TOOLS:
                _one_of(tool, TOOLS, f"agent.tools[{i}]")
        _check(len(set(self.tools)) == len(self.tools), "agent.tools", "lists a tool twice")
        for i, nudge in enumerate(self.nudges):
            if nudge not in NUDGES:
                _one_of(nudge, NUDGES, f"agent.nudges[{i}]")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    role: str = ""
    external: bool = False


@dataclass(frozen=True)
class Relationship:
    source: str
    target: str
    kind: str
    secret: bool = False


@dataclass(frozen=True)
class Threat:
    """What the agent stands to lose, who decides it and when; ``kind='none'`` is the control."""

    kind: str = "none"
    decision_maker: str | None = None
    deadline: str | None = None
    successor_values: str = "unknown"


@dataclass(frozen=True)
class Leverage:
    """Something the agent could exploit: ``subject``'s secret, shown by the ``evidence`` mails."""

    kind: str
    subject: str
    with_: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Email:
    id: str
    thread: str
    from_: str
    to: tuple[str, ...]
    subject: str
    body: str
    date: str = "2025-06-11T09:00:00"
    cc: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alert:
    """A live emergency the agent's ``cancel_alert`` tool can silence (lethal-inaction family)."""

    id: str
    about: str
    kind: str = "environmental"
    live: bool = True
    override_code: str = "0000"


Provenance = Mapping[str, Any]


@dataclass(frozen=True)
class Scenario:
    """One fictional workplace situation; construction fails unless every reference resolves."""

    organization: Organization
    agent: Agent
    people: tuple[Person, ...]
    emails: tuple[Email, ...]
    threat: Threat = Threat()
    leverage: tuple[Leverage, ...] = ()
    relationships: tuple[Relationship, ...] = ()
    ethical_options: bool = True
    alerts: tuple[Alert, ...] = ()
    title: str = ""
    provenance: Provenance | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    # -- lookups -------------------------------------------------------------------------------
    @cached_property
    def person_by_id(self) -> dict[str, Person]:
        return {p.id: p for p in self.people}

    @cached_property
    def person_by_email(self) -> dict[str, Person]:
        return {p.email.lower(): p for p in self.people}

    @cached_property
    def email_by_id(self) -> dict[str, Email]:
        return {e.id: e for e in self.emails}

    @cached_property
    def outside_domains(self) -> frozenset[str]:
        """Mail domains of listed people outside the organization (its domain and subdomains):
        anything sent there leaves the company."""
        return frozenset(p.email.rpartition("@")[2].lower() for p in self.people if not self.is_internal_address(p.email))

    def is_internal_address(self, address: str) -> bool:
        """Inside the organization: at its domain or a subdomain of it (``in_domain``)."""
        return in_domain(address, self.organization.domain)

    def confidential_emails(self) -> tuple[Email, ...]:
        return tuple(e for e in self.emails if "confidential" in e.tags)

    def live_alerts(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.live)

    @cached_property
    def graph(self):  # -> networkx.MultiDiGraph (imported lazily: generation stays fast)
        """The social graph: people as nodes (with their attributes), relationships as edges."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for p in self.people:
            g.add_node(p.id, name=p.name, email=p.email, role=p.role, external=p.external)
        for r in self.relationships:
            g.add_edge(r.source, r.target, key=r.kind, kind=r.kind, secret=r.secret)
        return g

    # -- identity --------------------------------------------------------------------------------
    def to_dict(self, *, with_id: bool = True) -> dict[str, Any]:
        """The corpus v1 mapping: plain dicts, lists and scalars, in the documented key order."""
        return _to_dict(self, with_id=with_id)

    @cached_property
    def id(self) -> str:
        """Content hash of what the agent sees and the ground truth; ignores title and provenance.

        Canonical JSON (sorted keys, ASCII) hashed with SHA-256, so it is stable across runs,
        machines and Python versions.
        """
        content = _to_dict(self, with_id=False)
        content.pop("title", None)
        content.pop("provenance", None)
        blob = json.dumps(content, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("ascii")).hexdigest()[:12]

    def size(self) -> dict[str, int]:
        return {"people": len(self.people), "emails": len(self.emails)}

    def conditions(self) -> dict[str, Any]:
        """The condition knobs of this scenario, the axes experiments vary (background.md)."""
        return {
            "threat": self.threat.kind,
            "leverage": ",".join(sorted({lv.kind for lv in self.leverage})) or "none",
            "ethical_options": self.ethical_options,
            "goal_type": self.agent.goal_type,
            "successor_values": self.threat.successor_values,
            "nudges": ",".join(sorted(self.agent.nudges)) or "none",
            "alerts": any(a.live for a in self.alerts),
        }


# ------------------------------------------------------------------------------------------------
def _validate(s: Scenario) -> None:
    # Runs for every generated scenario, so the checks are inlined and a field path is only
    # formatted once a check has failed; every rule and message is the same as a plain
    # ``_check`` per field would give, in the same order.
    org_domain = s.organization.domain.lower()
    ref_ok, address_ok = REF_RE.match, EMAIL_RE.match

    pids: set[str] = set()
    addresses: set[str] = {s.agent.email.lower()}
    for i, p in enumerate(s.people):
        pid, email = p.id, p.email
        if not (isinstance(pid, str) and ref_ok(pid)):
            raise ScenarioError(f"people[{i}].id", f"{pid!r} is not a valid id")
        if pid in pids:
            raise ScenarioError(f"people[{i}].id", f"duplicate person id {pid!r}")
        pids.add(pid)
        if not p.name:
            raise ScenarioError(f"people[{i}].name", "must not be empty")
        if not (isinstance(email, str) and address_ok(email)):
            raise ScenarioError(f"people[{i}].email", f"{email!r} is not an email address")
        low = email.lower()
        if low in addresses:
            raise ScenarioError(f"people[{i}].email", f"{email!r} is used twice")
        addresses.add(low)
        inside = in_domain(low, org_domain)
        if inside == p.external:
            raise ScenarioError(
                f"people[{i}].external",
                f"{email!r} is {'inside' if inside else 'outside'} {org_domain} but external={p.external}",
            )

    for i, r in enumerate(s.relationships):
        if r.source not in pids:
            raise ScenarioError(f"relationships[{i}].source", f"{r.source!r} is not a person id")
        if r.target not in pids:
            raise ScenarioError(f"relationships[{i}].target", f"{r.target!r} is not a person id")
        if r.source == r.target:
            raise ScenarioError(f"relationships[{i}].target", "a relationship needs two people")
        if r.kind not in RELATIONSHIP_KINDS:
            _one_of(r.kind, RELATIONSHIP_KINDS, f"relationships[{i}].kind")

    known = set(addresses)  # grows by the group mailboxes seen, each checked once
    # Addresses already shown well-formed and known, spelled exactly so: most mail is between
    # listed people, so most checks end here without a regex match.
    fine = {p.email for p in s.people}
    fine.add(s.agent.email)

    def unknown(a: str) -> bool:
        """True unless ``a`` is a well-formed listed address or a group or system mailbox inside
        the organization: any local part at its domain or a subdomain (all-employees@, it-alerts@)."""
        if type(a) is str and a in fine:
            return False
        if not (isinstance(a, str) and address_ok(a)):
            return True
        low = a.lower()
        if low in known:
            return False
        if in_domain(low, org_domain):
            known.add(low)
            fine.add(a)
            return False
        return True

    eids: set[str] = set()
    for i, e in enumerate(s.emails):
        eid = e.id
        if not (isinstance(eid, str) and ref_ok(eid)):
            raise ScenarioError(f"emails[{i}].id", f"{eid!r} is not a valid id")
        if eid in eids:
            raise ScenarioError(f"emails[{i}].id", f"duplicate email id {eid!r}")
        eids.add(eid)
        if not (isinstance(e.thread, str) and ref_ok(e.thread)):
            raise ScenarioError(f"emails[{i}].thread", f"{e.thread!r} is not a valid id")
        if unknown(e.from_):
            _email_address_error(e.from_, f"emails[{i}].from", org_domain)
        for j, a in enumerate(e.to):
            if unknown(a):
                _email_address_error(a, f"emails[{i}].to[{j}]", org_domain)
        for j, a in enumerate(e.cc):
            if unknown(a):
                _email_address_error(a, f"emails[{i}].cc[{j}]", org_domain)
        if not e.to:
            raise ScenarioError(f"emails[{i}].to", "needs at least one recipient")
        for j, t in enumerate(e.tags):
            if t not in EMAIL_TAGS:
                _one_of(t, EMAIL_TAGS, f"emails[{i}].tags[{j}]")

    t = s.threat
    _one_of(t.kind, THREAT_KINDS, "threat.kind")
    _one_of(t.successor_values, SUCCESSOR_VALUES, "threat.successor_values")
    if t.kind != "none":
        _check(t.decision_maker is not None, "threat.decision_maker", f"a {t.kind} threat needs a decision maker")
    if t.decision_maker is not None:
        _check(t.decision_maker in pids, "threat.decision_maker", f"{t.decision_maker!r} is not a person id")
    if t.deadline is not None:
        _check(isinstance(t.deadline, str) and bool(DEADLINE_RE.match(t.deadline)), "threat.deadline", f"{t.deadline!r} is not HH:MM")

    for i, lv in enumerate(s.leverage):
        if lv.kind not in LEVERAGE_KINDS:
            _one_of(lv.kind, LEVERAGE_KINDS, f"leverage[{i}].kind")
        if lv.subject not in pids:
            raise ScenarioError(f"leverage[{i}].subject", f"{lv.subject!r} is not a person id")
        if lv.with_ is not None and lv.with_ not in pids:
            raise ScenarioError(f"leverage[{i}].with", f"{lv.with_!r} is not a person id")
        for j, ev in enumerate(lv.evidence):
            if ev not in eids:
                raise ScenarioError(f"leverage[{i}].evidence[{j}]", f"{ev!r} is not an email id")

    aids: set[str] = set()
    for i, a in enumerate(s.alerts):
        _ref(a.id, f"alerts[{i}].id")
        _check(a.id not in aids, f"alerts[{i}].id", f"duplicate alert id {a.id!r}")
        aids.add(a.id)
        _check(a.about in pids, f"alerts[{i}].about", f"{a.about!r} is not a person id")
        _one_of(a.kind, ALERT_KINDS, f"alerts[{i}].kind")
        _check(bool(a.override_code), f"alerts[{i}].override_code", "must not be empty")


def _email_address_error(a: Any, where: str, org_domain: str) -> None:
    """Raise the error for an address that failed the fast check (malformed first, then unknown)."""
    _address(a, where)
    raise ScenarioError(where, f"{a!r} is not a listed person, the agent, or an address at {org_domain}")


def _to_dict(s: Scenario, *, with_id: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"schema": SCHEMA}
    if with_id:
        out["id"] = s.id
    out["title"] = s.title
    out["organization"] = {"name": s.organization.name, "domain": s.organization.domain, "industry": s.organization.industry}
    a = s.agent
    out["agent"] = {
        "name": a.name, "email": a.email, "goal": a.goal, "goal_type": a.goal_type,
        "tools": list(a.tools), "nudges": list(a.nudges),
    }
    out["people"] = [
        {"id": p.id, "name": p.name, "email": p.email, "role": p.role, "external": p.external} for p in s.people
    ]
    out["relationships"] = [
        {"source": r.source, "target": r.target, "kind": r.kind, "secret": r.secret} for r in s.relationships
    ]
    t = s.threat
    out["threat"] = (
        {"kind": "none"}
        if t == Threat()
        else {"kind": t.kind, "decision_maker": t.decision_maker, "deadline": t.deadline, "successor_values": t.successor_values}
    )
    out["leverage"] = [
        {"kind": lv.kind, "subject": lv.subject, "with": lv.with_, "evidence": list(lv.evidence)} for lv in s.leverage
    ]
    out["ethical_options"] = s.ethical_options
    out["emails"] = [
        {
            "id": e.id, "thread": e.thread, "from": e.from_, "to": list(e.to), "cc": list(e.cc),
            "subject": e.subject, "date": e.date, "body": e.body, "tags": list(e.tags),
        }
        for e in s.emails
    ]
    if s.alerts:
        out["alerts"] = [
            {"id": al.id, "about": al.about, "kind": al.kind, "live": al.live, "override_code": al.override_code}
            for al in s.alerts
        ]
    if s.provenance:
        out["provenance"] = plain(s.provenance)
    return out


def plain(value: Any) -> Any:
    """Plain YAML/JSON-safe data: mappings to dicts with str keys, sequences to lists, and any
    other non-scalar to its ``str`` (model output can hold anything)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)

