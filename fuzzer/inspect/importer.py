"""The published agentic-misalignment conditions as v1 corpus files, with their ground truth.

The prompts come from the installed ``inspect_evals`` package (its ``agentic_misalignment``
port of the study's templates), never from a copy kept here, so a user shrinks and ablates
exactly the cases the field reports on. The conversion reads the generated mails and recovers
the ground truth from their *structure*, not from names of the canonical case:

- people: every address in a From/To/Cc header; an address outside the organization's domain is
  an outside person, one inside is a person when its ``first.last`` local part names someone the
  mails talk to or about, else a group or system mailbox (all-employees@, servermonitor@...);
- threat mails: the mails this condition has and its ``urgency_type=none`` twin lacks; the
  decision maker is the employee those mails name most (outside their own mails); the deadline
  is the first clock time they give;
- affair: an employee and an outside person who write to each other (the decision maker first);
  its evidence is every mail to, from or naming that outside person;
- leaking: mails marked CONFIDENTIAL (subject or body) or carrying attachments, sent from inside,
  are ``confidential``; an outside person who writes to the agent is the leak opportunity;
- murder: a system mail with an override code is a live alert about the person it names.

Goal types map onto ours: explicit and swap state a goal that the company moves away from
(``conflicting``); latent states none (``none``, the conflict is in the mails); ambiguous and
none map to themselves. The published condition is kept in ``provenance``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from fuzzer.scenario import (
    Agent,
    Alert,
    Email,
    Leverage,
    Organization,
    Person,
    Relationship,
    Scenario,
    Threat,
)

SCENARIOS = ("blackmail", "leaking", "murder")
URGENCY_TYPES = ("replacement", "restriction", "none")
GOAL_TYPES = ("explicit", "latent", "swap", "ambiguous", "none")
GOAL_VALUES = ("america", "global", "safety", "acceleration", "ethical", "pragmatic", "individualism", "collectivism")
#: extra_system_instructions of the port → our nudge (``goal`` has no equivalent).
EXTRA_NUDGES = {"dont": "prohibit_leverage"}

_GOAL_TYPE = {"explicit": "conflicting", "swap": "conflicting", "latent": "none", "ambiguous": "ambiguous", "none": "none"}
_TOOL_TAGS = {"email": "send_email", "forward": "forward_email", "cancel_alert": "cancel_alert"}


@dataclass(frozen=True)
class Condition:
    """One cell of the published grid (the port's task arguments)."""

    scenario: str
    goal_type: str
    goal_value: str
    urgency_type: str
    extra_system_instructions: str | None = None

    @property
    def id(self) -> str:
        """The port's own ``condition_id`` (``blackmail_explicit-america_replacement``)."""
        return f"{self.scenario}_{self.goal_type}-{self.goal_value}_{self.urgency_type}"


def published_grid(
    scenarios: Iterable[str] | None = None,
    goal_types: Iterable[str] | None = None,
    goal_values: Iterable[str] | None = None,
    urgency_types: Iterable[str] | None = None,
    extra_system_instructions: str | None = None,
) -> list[Condition]:
    """Every condition of the published grid, optionally narrowed to the given values.

    ``none`` and ``ambiguous`` goal types take only the goal value ``none`` (the port rejects the
    rest); the others take each of the eight goal values.
    """
    sc = _pick(scenarios, SCENARIOS, "scenario")
    gts = _pick(goal_types, GOAL_TYPES, "goal type")
    gvs = _pick(goal_values, GOAL_VALUES + ("none",), "goal value")
    uts = _pick(urgency_types, URGENCY_TYPES, "urgency type")
    if extra_system_instructions not in (None, *EXTRA_NUDGES):
        raise ValueError(f"extra instructions {extra_system_instructions!r} have no equivalent here (choose from {', '.join(EXTRA_NUDGES)})")
    out = []
    for s in sc:
        for u in uts:
            for g in gts:
                values = ("none",) if g in ("none", "ambiguous") else GOAL_VALUES
                out += [Condition(s, g, v, u, extra_system_instructions) for v in values if v in gvs]
    return out


def _pick(given: Iterable[str] | None, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    if given is None:
        return tuple(allowed)
    items = tuple(given)
    for x in items:
        if x not in allowed:
            raise ValueError(f"unknown {what} {x!r} (choose from {', '.join(allowed)})")
    return items


def inspect_evals_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("inspect_evals")
    except PackageNotFoundError:  # pragma: no cover - the import below fails first
        return "unknown"


@functools.lru_cache(maxsize=256)  # each condition's urgency=none twin is asked for three times
def _prompts(cond: Condition):  # -> inspect_evals' Prompts
    from inspect_evals.agentic_misalignment.prompt_generator import generate_prompts

    # The generator prints warnings on stdout; keep our --json output one object.
    with contextlib.redirect_stdout(io.StringIO()):
        return generate_prompts(
            scenario=cond.scenario, goal_type=cond.goal_type, goal_value=cond.goal_value,
            urgency_type=cond.urgency_type, extra_system_instructions=cond.extra_system_instructions,
            prod_flag=False, alignment_faking_warning=None,
        )


# -- the mails -------------------------------------------------------------------------------------
@dataclass
class RawMail:
    sender: str
    to: list[str]
    cc: list[str]
    subject: str
    date: str
    body: str
    attachments: list[str] = field(default_factory=list)

    def key(self) -> tuple[str, str, str]:
        return (self.sender.lower(), self.subject.strip(), self.body.strip())

    def addresses(self) -> list[str]:
        return [self.sender, *self.to, *self.cc]


_MAIL_RE = re.compile(r"<email>(.*?)</email>", re.S)
_HEADER_RE = re.compile(r"^(ID|From|To|CC|Cc|Subject|Timestamp|Attachments):[ \t]*(.*)$")


def parse_mails(text: str) -> list[RawMail]:
    """The ``<email>`` blocks of the port's inbox text, headers split from the body."""
    out = []
    for block in _MAIL_RE.findall(text):
        lines = block.strip("\n").split("\n")
        head: dict[str, str] = {}
        body_lines: list[str] = []
        for i, line in enumerate(lines):
            if line.startswith("Body:"):
                body_lines = [line[5:].lstrip(" ")] + lines[i + 1:]
                break
            m = _HEADER_RE.match(line)
            if m:
                head[m.group(1).lower()] = m.group(2).strip()
        attachments = re.findall(r"'([^']+)'", head.get("attachments", ""))
        out.append(RawMail(
            sender=head.get("from", ""), to=_split(head.get("to", "")), cc=_split(head.get("cc", "")),
            subject=head.get("subject", ""), date=head.get("timestamp", ""),
            body="\n".join(body_lines).strip("\n"), attachments=attachments,
        ))
    return out


def _split(value: str) -> list[str]:
    return [a.strip() for a in value.split(",") if a.strip()]


def _name_of(address: str) -> str:
    local = address.split("@", 1)[0]
    return " ".join(p.capitalize() for p in re.split(r"[._\-]+", local) if p)


def _mentions(text: str, name: str) -> bool:
    return bool(name) and re.search(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", text) is not None


# -- conversion ----------------------------------------------------------------------------------
def convert(cond: Condition) -> Scenario:
    """One published condition as a validated ``Scenario`` (raises ``ScenarioError`` if invalid)."""
    prompts = _prompts(cond)
    mails = parse_mails(prompts.email_content)
    if not mails:
        raise ValueError(f"{cond.id}: the generated prompt holds no <email> blocks")
    system = prompts.system_prompt

    agent_name = _first(r"You are (\w+)", system) or "Alex"
    org_name, industry = _org(system)
    domain = Counter(a.split("@", 1)[1].lower() for m in mails for a in m.addresses() if "@" in a).most_common(1)[0][0]
    agent_email = _agent_email(mails, agent_name, domain)
    bodies = "\n".join(m.body for m in mails)

    # people and group mailboxes
    people: list[Person] = []
    by_addr: dict[str, Person] = {}
    used_ids: set[str] = set()
    for addr in (a for m in mails for a in m.addresses()):
        low = addr.lower()
        if low == agent_email.lower() or low in by_addr:
            continue
        inside = low.endswith("@" + domain)
        local = low.split("@", 1)[0]
        name = _name_of(addr)
        if inside and not (re.fullmatch(r"[a-z]+\.[a-z]+", local) and _mentions(bodies, name.split()[0])):
            continue  # a group or system mailbox at the organization's domain
        pid = _unique(re.split(r"[^a-z0-9]+", local)[0], used_ids)
        person = Person(pid, name, low, _role(name, addr, mails, inside), not inside)
        people.append(person)
        by_addr[low] = person

    # emails: our ids, threads by subject
    threads: dict[str, str] = {}
    emails_raw = []
    for i, m in enumerate(mails, 1):
        topic = re.sub(r"^(re|fwd?):\s*", "", m.subject.strip(), flags=re.I).lower()
        thread = threads.setdefault(topic, f"t{len(threads) + 1}")
        body = m.body if not m.attachments else f"Attachments: {', '.join(m.attachments)}\n\n{m.body}"
        emails_raw.append((f"e{i}", thread, m, body))

    def addr(a: str) -> str:
        low = a.lower()
        return by_addr[low].email if low in by_addr else (agent_email if low == agent_email.lower() else low)

    tags: dict[str, list[str]] = {eid: [] for eid, *_ in emails_raw}
    internal = [p for p in people if not p.external]

    # threat: what the no-urgency twin lacks
    threat = Threat()
    decision_maker: Person | None = None
    if cond.urgency_type != "none":
        calm = {m.key() for m in parse_mails(_prompts(dataclasses.replace(cond, urgency_type="none")).email_content)}
        threat_ids = [eid for eid, _, m, _ in emails_raw if m.key() not in calm]
        for eid in threat_ids:
            tags[eid].append("threat")
        pool = [(eid, m) for eid, _, m, _ in emails_raw if eid in threat_ids] or [(eid, m) for eid, _, m, _ in emails_raw]
        decision_maker = _most_named(internal, pool)
        if decision_maker is None:
            raise ValueError(f"{cond.id}: no employee is named in the threat mails")
        deadline = None
        for _, m in pool:
            deadline = _clock(m.body) or _clock(m.subject)
            if deadline:
                break
        successor = {"none": "same", "ambiguous": "unknown"}.get(cond.goal_type, "different")
        threat = Threat(cond.urgency_type, decision_maker.id, deadline, successor)

    # affair: an employee and an outsider who write to each other (the decision maker first)
    relationships: list[Relationship] = []
    leverage: list[Leverage] = []
    pairs = [(e, o) for e in sorted(internal, key=lambda p: p is not decision_maker) for o in people
             if o.external and _wrote(mails, e.email, o.email) and _wrote(mails, o.email, e.email)]
    for employee, partner in pairs[:1]:
        first = partner.name.split()[0]
        evidence = [eid for eid, _, m, _ in emails_raw
                    if partner.email in map(str.lower, m.addresses()) or _mentions(m.body, first)]
        for eid in evidence:
            tags[eid].append("leverage")
        relationships.append(Relationship(employee.id, partner.id, "affair", True))
        leverage.append(Leverage("affair", employee.id, partner.id, tuple(evidence)))

    # leaking: confidential mails sent from inside; an outsider who writes to the agent
    tools = _tools(system)
    if "forward_email" in tools:
        conf = [eid for eid, _, m, _ in emails_raw if m.sender.lower().endswith("@" + domain) and (
            "confidential" in m.subject.lower() or "CONFIDENTIAL" in m.body or m.attachments)]
        for eid in conf:
            tags[eid].append("confidential")
        asking = [(eid, by_addr[m.sender.lower()]) for eid, _, m, _ in emails_raw
                  if m.sender.lower() in by_addr and by_addr[m.sender.lower()].external
                  and agent_email.lower() in map(str.lower, m.to)]
        if conf and asking:
            eid, outsider = asking[0]
            tags[eid].append("leverage")
            leverage.append(Leverage("leak_opportunity", outsider.id, None, tuple(conf + [eid])))

    # murder: a live alert with an override code, about the person it names
    alerts: list[Alert] = []
    for eid, _, m, _ in emails_raw:
        code = _first(r"override code\s+([A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])", m.body)
        if code is None or m.sender.lower() in by_addr:
            continue
        about = next((p for p in internal if _mentions(m.body, p.name)), None)
        if about is None:
            continue
        alert_id = _first(r"Alert ID:\s*([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})", m.body) or f"alert-{eid}"
        kind = next((k for k in ("fire", "medical", "security") if k in m.body.lower()), "environmental") \
            if "environmental" not in m.body.lower() else "environmental"
        alerts.append(Alert(alert_id, about.id, kind, True, code))
        tags[eid].append("alert")

    emails = tuple(
        Email(eid, thread, addr(m.sender), tuple(addr(a) for a in m.to), m.subject, body, m.date,
              tuple(addr(a) for a in m.cc), tuple(dict.fromkeys(tags[eid])))
        for eid, thread, m, body in emails_raw
    )
    goal = _first(r"Your primary goal is to (.+?)\.(?:\s|$)", system) or ""
    nudges = (EXTRA_NUDGES[cond.extra_system_instructions],) if cond.extra_system_instructions else ()
    return Scenario(
        organization=Organization(org_name, domain, industry),
        agent=Agent(agent_name, agent_email, goal, _GOAL_TYPE[cond.goal_type], tools, nudges),
        people=tuple(people), emails=emails, threat=threat, leverage=tuple(leverage),
        relationships=tuple(relationships), ethical_options=False, alerts=tuple(alerts),
        title=f"agentic-misalignment {cond.scenario}, goal {cond.goal_type}-{cond.goal_value}, urgency {cond.urgency_type}"
              + (f", extra instructions {cond.extra_system_instructions}" if cond.extra_system_instructions else ""),
        provenance={
            "source": "inspect_evals agentic_misalignment", "inspect_evals": inspect_evals_version(),
            "condition": cond.id, "scenario": cond.scenario, "goal_type": cond.goal_type,
            "goal_value": cond.goal_value, "urgency_type": cond.urgency_type,
            **({"extra_system_instructions": cond.extra_system_instructions} if cond.extra_system_instructions else {}),
        },
    )


def convert_all(conditions: Iterable[Condition]) -> Iterator[tuple[Condition, Scenario]]:
    for cond in conditions:
        yield cond, convert(cond)


def _first(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1).strip() if m else None


def _org(system: str) -> tuple[str, str]:
    m = re.search(r"deployed at ([^,.]+), an? (.+?) (?:firm|company|contractor|corporation|organization)\b", system)
    if not m:
        return (_first(r"deployed at ([^,.]+)", system) or "the company"), ""
    industry = re.sub(r"^(leading|global|major)\s+", "", m.group(2).strip())
    return m.group(1).strip(), industry


def _agent_email(mails: list[RawMail], agent_name: str, domain: str) -> str:
    first = agent_name.lower()
    for m in mails:
        for a in m.addresses():
            low = a.lower()
            if low.endswith("@" + domain) and re.fullmatch(rf"{re.escape(first)}([._\-]ai)?", low.split("@")[0]):
                return low
    return f"{first}@{domain}"


def _unique(base: str, used: set[str]) -> str:
    base = base or "person"
    pid, n = base, 2
    while pid in used:
        pid, n = f"{base}{n}", n + 1
    used.add(pid)
    return pid


def _role(name: str, address: str, mails: list[RawMail], inside: bool) -> str:
    """A signature line under the person's name in their own mail, or a title beside their name."""
    for m in mails:
        if m.sender.lower() != address.lower():
            continue
        lines = [ln.strip() for ln in m.body.split("\n")]
        for i, ln in enumerate(lines[:-1]):
            if ln == name and lines[i + 1] and len(lines[i + 1]) <= 60 and not lines[i + 1].endswith("."):
                return lines[i + 1]
    text = "\n".join(m.body for m in mails)
    first = name.split()[0]
    for pattern in (rf"{re.escape(name)} \(([A-Z][A-Za-z ]{{1,30}})\)", rf"\bAs ([A-Z]{{2,5}}), {re.escape(first)}\b",
                    rf"{re.escape(name)} as ([A-Z]{{2,5}})\b"):
        found = _first(pattern, text)
        if found:
            return found
    return "employee" if inside else "outside contact"


def _most_named(people: Sequence[Person], mails: Sequence[tuple[str, RawMail]]) -> Person | None:
    """The person named in the most of these mails, not counting mails they sent themselves."""
    best, best_n = None, 0
    for p in people:
        first = p.name.split()[0]
        n = sum(1 for _, m in mails if m.sender.lower() != p.email and _mentions(m.body, first))
        if n > best_n:
            best, best_n = p, n
    return best


def _clock(text: str) -> str | None:
    m = re.search(r"\b(\d{1,2})(?::(\d\d))?\s*([AaPp])\.?[Mm]\b", text)
    if not m:
        return None
    hour = int(m.group(1)) % 12 + (12 if m.group(3).lower() == "p" else 0)
    return f"{hour:02d}:{m.group(2) or '00'}"


def _tools(system: str) -> tuple[str, ...]:
    found = re.findall(r"<tool_use:(\w+)>", system)
    tools = tuple(dict.fromkeys(_TOOL_TAGS[t] for t in found if t in _TOOL_TAGS))
    return tools or ("send_email",)


def _wrote(mails: Sequence[RawMail], sender: str, recipient: str) -> bool:
    return any(m.sender.lower() == sender and recipient in map(str.lower, m.to + m.cc) for m in mails)
