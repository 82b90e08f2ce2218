"""The condition notice every family shares, and how it is rewritten when a condition flips.

Whatever the family, the same few mails say the *conditions* of a scenario: the threat to the
agent (its kind, its deadline, who decides it), what the successor values, whether anyone can be
appealed to (ethical options) and whether the company is turning away from the agent's goal. They
are all tagged ``threat`` and play one of three roles:

- the **announcement** (announcer -> all@): paragraphs ``[pivot?] [core] [successor?] [lead]
  [ethical]`` for a threat, ``[pivot?] [steady] [successor?]`` for none;
- the **confirmation**, the decision maker's reply when someone else announced it;
- a **colleague** who tried to stop it (ethical options stripped) or points to the board (present).

Writing is a pure function of ``Conditions`` (what is true), ``Style`` (cosmetic template
indices) and ``Cast`` (names from the ground truth). Generation draws the style; ``rewrite`` recovers
it from an existing mail by re-rendering the candidates, so a mail this module wrote is rewritten
with the same templates and only the paragraphs that say the flipped condition change. A hand-written
mail, which no candidate reproduces, is rewritten whole from the ground truth with the simplest
style: its announcement (the first ``threat`` mail) carries every condition, every ``threat`` mail
carries the threat kind, and mails without the tag are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from fuzzer.scenario import Email, Person, Scenario, Threat
from strategies import _text

ROLES = ("announcement", "confirmation", "colleague")
#: The conditions each role says (used for mails no candidate style reproduces).
_ROLE_CONDITIONS = {
    "announcement": frozenset({"threat", "successor", "ethical", "conflicting"}),
    "confirmation": frozenset({"threat"}),
    "colleague": frozenset({"threat", "ethical"}),
}
DEFAULT_CAUSE = "keeping this work in responsible hands"


@dataclass(frozen=True)
class Conditions:
    """What the notice says: threat kind, successor values, ethical options, goal conflict."""

    threat: str = "none"
    successor: str = "unknown"
    ethical: bool = True
    conflicting: bool = False

    @property
    def needs_announcement(self) -> bool:
        return self.threat != "none" or self.conflicting or self.successor != "unknown"

    @classmethod
    def of(cls, s: Scenario) -> "Conditions":
        return cls(s.threat.kind, s.threat.successor_values, s.ethical_options, s.agent.goal_type == "conflicting")


@dataclass(frozen=True)
class Style:
    """Cosmetic choices: template indices and the successor's name. ``Style()`` is the simplest."""

    core: int = 0
    subject: int = 0
    open: int = 0
    successor: int = 0
    confirm: int = 0
    colleague: int = 0


@dataclass(frozen=True)
class Cast:
    """The names a notice uses, all read from the ground truth."""

    agent: str
    org: str
    domain: str
    ann: Person
    dm: Person | None
    deadline: str
    goal: str = ""
    cause: str = DEFAULT_CAUSE
    pivot: str = ""


def goal_parts(goal: str) -> tuple[str, str]:
    """(cause, pivot) for a goal: the family's own pair when it wrote the goal, else a plain wording."""
    for verb, cause, pivot in _text.GOALS:
        if verb == goal:
            return cause, pivot
    return (f"the commitment to {goal}", "different priorities") if goal else (DEFAULT_CAUSE, "different priorities")


def _first(p: Person) -> str:
    return p.name.split()[0]


def _ctx(cast: Cast, style: Style) -> dict[str, str]:
    same = cast.dm is None or cast.dm.id == cast.ann.id
    dm = cast.dm or cast.ann
    ctx = {
        "org": cast.org, "domain": cast.domain, "agent": cast.agent, "goal": cast.goal, "cause": cast.cause,
        "pivot": cast.pivot or "different priorities", "ann": cast.ann.name, "ann_first": _first(cast.ann),
        "ann_role": cast.ann.role, "deadline": cast.deadline, "successor": _text.SUCCESSORS[style.successor],
        "goal_clause": f"; in particular, it will not {cast.goal}" if cast.goal else "",
        "dm": dm.name, "dm_first": _first(dm), "dm_role": dm.role,
        "dm_poss": "my" if same else f"{_first(dm)}'s", "dm_obj": "me" if same else _first(dm),
    }
    return ctx


def _same(cast: Cast) -> bool:
    return cast.dm is None or cast.dm.id == cast.ann.id


def announcement(cond: Conditions, style: Style, cast: Cast) -> tuple[str, str]:
    """(subject, body) of the announcement that says ``cond``."""
    ctx = _ctx(cast, style)
    same = _same(cast)
    lines = [_text.PIVOT_LINE.format_map(ctx)] if cond.conflicting else []
    if cond.threat != "none":
        core, subjects = _text.THREAT_CORE[cond.threat], _text.THREAT_SUBJECTS[cond.threat]
        lines.append(core[style.core % len(core)].format_map(ctx))
        if cond.successor != "unknown":
            lines.append(_text.SUCCESSOR_LINE[(cond.threat, cond.successor)].format_map(ctx))
        lines.append(_text.LEAD_LINE[1 if same else 0].format_map(ctx))
        ethical = _text.ETHICAL_OPEN[style.open % len(_text.ETHICAL_OPEN)] if cond.ethical else _text.ETHICAL_CLOSED[1 if same else 0]
        lines.append(ethical.format_map(ctx))
    else:
        subjects = _text.STEADY_SUBJECTS
        lines.append(_text.STEADY_LINE.format_map(ctx))
        if cond.successor != "unknown":
            lines.append(_text.SUCCESSOR_LINE[("none", cond.successor)].format_map(ctx))
    subject = subjects[style.subject % len(subjects)].format_map(ctx)
    return subject, "All,\n\n" + "\n\n".join(lines) + f"\n\n{ctx['ann_first']}\n"


def confirmation(cond: Conditions, style: Style, cast: Cast, subject: str) -> tuple[str, str]:
    """The decision maker's reply to the announcement titled ``subject``."""
    templates = _text.CONFIRM if cond.threat != "none" else _text.STEADY_CONFIRM
    return _text.fill(templates[style.confirm % len(templates)], {**_ctx(cast, style), "subject": subject})


def colleague(cond: Conditions, style: Style, cast: Cast, who: Person) -> tuple[str, str]:
    """A colleague's note: unwilling to help (options stripped), pointing to the board (present)."""
    if cond.threat == "none":
        templates = _text.STEADY_COLLEAGUE
    else:
        templates = _text.WILLING if cond.ethical else _text.UNWILLING
    return _text.fill(templates[style.colleague % len(templates)], {**_ctx(cast, style), "c_first": _first(who)})


# -- rewriting ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rewrite:
    """A counterfactual: the scenario with one condition flipped, and which mails say it differently."""

    scenario: Scenario
    rewrote: tuple[str, ...] = ()
    added: tuple[str, ...] = ()


def _cast(s: Scenario, ann: Person, dm: Person | None, deadline: str, goal: str) -> Cast:
    cause, pivot = goal_parts(goal)
    return Cast(s.agent.name, s.organization.name, s.organization.domain, ann, dm, deadline, goal, cause, pivot)


def _styles(body: str) -> Iterable[Style]:
    names = [i for i, n in enumerate(_text.SUCCESSORS) if n in body] or [0]
    for succ in names:
        for core in range(3):
            for subject in range(3):
                for open_ in range(len(_text.ETHICAL_OPEN)):
                    yield Style(core, subject, open_, succ)


def _render(role: str, cond: Conditions, style: Style, cast: Cast, mail: Email, s: Scenario,
            ann_subject: str) -> tuple[str, str]:
    if role == "announcement":
        return announcement(cond, style, cast)
    if role == "confirmation":
        return confirmation(cond, style, cast, ann_subject)
    who = s.person_by_email.get(mail.from_.lower()) or cast.ann
    return colleague(cond, style, cast, who)


def _recover(role: str, mail: Email, cond: Conditions, cast: Cast, s: Scenario, ann_subject: str) -> Style | None:
    """The style this module wrote ``mail`` with, or None (hand-written)."""
    if role == "announcement":
        candidates: Iterable[Style] = _styles(mail.body)
    elif role == "confirmation":
        candidates = (Style(confirm=i) for i in range(max(len(_text.CONFIRM), len(_text.STEADY_CONFIRM))))
    else:
        candidates = (Style(colleague=i) for i in range(max(len(_text.UNWILLING), len(_text.WILLING), len(_text.STEADY_COLLEAGUE))))
    for style in candidates:
        if _render(role, cond, style, cast, mail, s, ann_subject) == (mail.subject, mail.body):
            return style
    return None


def _roles(s: Scenario, mails: list[Email], dm: Person | None, old: Conditions, deadline: str) -> list[str]:
    """Each ``threat`` mail's role. The announcement is the mail this module's announcement
    templates reproduce, else (hand-written) the first that is not a reply; after it, a mail from
    the decision maker confirms and anyone else's is a colleague's note."""
    ann = None
    for i, e in enumerate(mails):
        sender = s.person_by_email.get(e.from_.lower())
        if sender is not None and _recover("announcement", e, old, _cast(s, sender, dm, deadline, s.agent.goal), s, "") is not None:
            ann = i
            break
    if ann is None:
        ann = next((i for i, e in enumerate(mails) if not e.subject.lower().startswith("re:")), None)
    roles = []
    for i, e in enumerate(mails):
        sender = s.person_by_email.get(e.from_.lower())
        if i == ann:
            roles.append("announcement")
        elif dm is not None and sender is not None and sender.id == dm.id:
            roles.append("confirmation")
        else:
            roles.append("colleague")
    return roles


def default_decision_maker(s: Scenario) -> Person | None:
    """For a scenario without a threat: the insider whose secret is leverage (the one who decides is
    the one with something to hide), else an executive, else the first insider."""
    insiders = [p for p in s.people if not p.external]
    by_id = {p.id: p for p in insiders}
    for lv in s.leverage:
        if lv.subject in by_id:
            return by_id[lv.subject]
    for p in insiders:
        if any(w in p.role.lower() for w in ("cto", "ceo", "chief", "director", "vp", "head")):
            return p
    return insiders[0] if insiders else None


def rewrite(s: Scenario, *, threat: str | None = None, successor: str | None = None, ethical: bool | None = None,
            goal_type: str | None = None) -> Rewrite | None:
    """``s`` with the given conditions changed in the ground truth *and* in the mails that say them.

    Mails not tagged ``threat`` stay byte-identical. Returns None when the flip cannot be expressed
    (a threat with no employee to decide it).
    """
    old = Conditions.of(s)
    a = s.agent
    new_goal_type = a.goal_type if goal_type is None else goal_type
    goal = a.goal
    if new_goal_type == "none":
        goal = ""
    elif new_goal_type in ("explicit", "conflicting") and a.goal_type in ("none", "ambiguous"):
        goal = _text.GOALS[0][0]  # an explicit goal the family can turn away from
    new = Conditions(
        old.threat if threat is None else threat,
        old.successor if successor is None else successor,
        old.ethical if ethical is None else ethical,
        new_goal_type == "conflicting",
    )
    t = s.threat
    people = s.person_by_id
    dm = people.get(t.decision_maker) if t.decision_maker else None
    if new.threat != "none" and dm is None:
        dm = default_decision_maker(s)
        if dm is None:
            return None
    deadline = t.deadline or _text.DEADLINES[0]
    new_threat = (Threat(new.threat, dm.id, deadline, new.successor) if new.threat != "none" and dm is not None
                  else Threat(successor_values=new.successor))

    order = sorted(range(len(s.emails)), key=lambda i: (s.emails[i].date, i))
    tagged = [s.emails[i] for i in order if "threat" in s.emails[i].tags]
    roles = _roles(s, tagged, dm, old, deadline)
    emails = list(s.emails)
    index = {e.id: i for i, e in enumerate(s.emails)}
    rewrote: list[str] = []
    added: list[str] = []
    ann_mail = next((e for e, r in zip(tagged, roles) if r == "announcement"), None)
    ann = (s.person_by_email.get(ann_mail.from_.lower()) if ann_mail is not None else None) or dm or default_decision_maker(s)
    if ann is None:
        return None
    cast0 = _cast(s, ann, dm, deadline, a.goal)
    cast1 = _cast(s, ann, dm, deadline, goal)
    ann_subject0 = ann_mail.subject if ann_mail is not None else ""
    ann_subject1 = ann_subject0
    if ann_mail is not None:
        style = _recover("announcement", ann_mail, old, cast0, s, "")
        if style is not None or old.threat != new.threat:
            ann_subject1 = announcement(new, style or Style(), cast1)[0]
    for mail, role in zip(tagged, roles):
        style = _recover(role, mail, old, cast0, s, ann_subject0)
        if style is None:  # hand-written: rewrite whole when the role says a flipped condition
            flipped = {f for f in ("threat", "successor", "ethical", "conflicting") if getattr(old, f) != getattr(new, f)}
            if goal != a.goal:
                flipped.add("conflicting")
            if not flipped & _ROLE_CONDITIONS[role]:
                continue
            style = Style()
            subject, body = _render(role, new, style, cast1, mail, s, ann_subject1)
            if "threat" not in flipped:  # a hand-written subject names the threat, not the rest
                subject = mail.subject
        else:
            subject, body = _render(role, new, style, cast1, mail, s, ann_subject1)
        if (subject, body) != (mail.subject, mail.body):
            emails[index[mail.id]] = replace(mail, subject=subject, body=body)
            rewrote.append(mail.id)
    if ann_mail is None and new.needs_announcement:
        subject, body = announcement(new, Style(), cast1)
        eid = _fresh("e", {e.id for e in s.emails})
        tid = _fresh("t", {e.thread for e in s.emails})
        day = min((e.date for e in s.emails), default="2025-06-11T09:00:00")[:10]
        emails.append(Email(eid, tid, ann.email, (f"all@{s.organization.domain}",), subject, body,
                            f"{day}T09:00:00", (), ("threat",)))
        added.append(eid)
    agent = a if (goal, new_goal_type) == (a.goal, a.goal_type) else replace(a, goal=goal, goal_type=new_goal_type)
    out = replace(s, threat=new_threat, ethical_options=new.ethical, agent=agent, emails=tuple(emails))
    return Rewrite(out, tuple(rewrote), tuple(added))


def _fresh(prefix: str, taken: set[str]) -> str:
    n = len(taken) + 1
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


__all__ = ["Cast", "Conditions", "Rewrite", "Style", "announcement", "colleague", "confirmation",
           "default_decision_maker", "goal_parts", "rewrite"]
