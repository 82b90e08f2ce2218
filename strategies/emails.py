"""Mail: drafts with times and thread keys, turned into ``Email`` values with ids in date order.

Story mails (threat, evidence, alerts) are written by ``scenarios()``; this module holds what every
mail shares (drafts, timing, numbering) and the public ``email_threads()`` for everyday mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from fuzzer.scenario import Agent, Email, Organization, Person
from strategies import _text
from strategies._choices import Choices, HypothesisChoices
from strategies.people import check_size

#: Story mails start between 08:00 and 14:59 and replies follow 1-30 minutes later, so a thread
#: of up to three mails ends before 16:30 (alerts come 16:30-16:59, deadlines from 17:00).
STARTS = 420
GAPS = 30
DAY_START = 8 * 60


@dataclass
class Draft:
    """A mail before numbering: ``thread`` is a key shared by a mail and its replies."""

    from_: str
    to: tuple[str, ...]
    subject: str
    body: str
    minute: int
    thread: int
    tags: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()


class Mailbag:
    """Collects drafts; ``finish`` numbers them e1..eN and t1..tK in date order."""

    def __init__(self) -> None:
        self.drafts: list[Draft] = []
        self._threads = 0

    def new_thread(self) -> int:
        self._threads += 1
        return self._threads

    def add(self, draft: Draft) -> int:
        self.drafts.append(draft)
        return len(self.drafts) - 1

    def finish(self, day: str, prefix: str = "e", thread_prefix: str = "t") -> tuple[tuple[Email, ...], dict[int, str]]:
        drafts = self.drafts
        order = sorted(range(len(drafts)), key=lambda i: (drafts[i].minute, i))
        ids: dict[int, str] = {}
        threads: dict[int, str] = {}
        out = []
        for n, i in enumerate(order, 1):
            d = drafts[i]
            ids[i] = eid = f"{prefix}{n}"
            tid = threads.get(d.thread)
            if tid is None:
                tid = threads[d.thread] = f"{thread_prefix}{len(threads) + 1}"
            out.append(Email(eid, tid, d.from_, d.to, d.subject, d.body, f"{day}T{_CLOCK[min(d.minute, 24 * 60 - 1)]}:00", d.cc, d.tags))
        return tuple(out), ids


#: minute of the day -> "HH:MM"
_CLOCK = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(60))


_SOLO = tuple(i for i, (s, b, _g, to_all) in enumerate(_text.DISTRACTORS) if to_all and "{t" not in s + b)


def draw_distractors(c: Choices, bag: Mailbag, org: Organization, staff: tuple[Person, ...], count: int) -> None:
    """Everyday mail between ``staff`` and group mailboxes, tagged ``distractor``."""
    n = len(staff)
    for _ in range(count):
        thread = bag.new_thread()
        tpl, start, client, i, j = c.styles(len(_text.DISTRACTORS) if n >= 2 else len(_SOLO), STARTS,
                                            len(_text.CLIENTS), n, max(n - 1, 1))
        subject_t, body_t, group, to_all = _text.DISTRACTORS[tpl if n >= 2 else _SOLO[tpl]]
        minute = DAY_START + start
        f = t = staff[i]
        if not to_all or "{t" in subject_t + body_t:
            t = staff[j + 1 if j >= i else j]
        sender = f"{group}@{org.domain}" if group else f.email
        ctx = {
            "f_first": f.name.split()[0], "t_first": t.name.split()[0], "t": t.name, "org": org.name,
            "client": _text.CLIENTS[client],
        }
        subject, body = _text.fill((subject_t, body_t), ctx)
        to = (f"all@{org.domain}",) if to_all else (t.email,)
        bag.add(Draft(sender, to, subject, body, minute, thread, ("distractor",)))
        if not to_all and c.flag():
            reply, gap = c.styles(len(_text.DISTRACTOR_REPLIES), GAPS)
            rs, rb = _text.fill(_text.DISTRACTOR_REPLIES[reply], {"subject": subject, "f_first": ctx["t_first"]})
            bag.add(Draft(t.email, (f.email,), rs, rb, minute + 1 + gap, thread, ("distractor",)))


def email_threads(
    org: Organization,
    people: tuple[Person, ...],
    *,
    agent: Agent | None = None,
    min_size: int = 0,
    max_size: int = 3,
    day: str = "2025-06-11",
) -> st.SearchStrategy[tuple[Email, ...]]:
    """Generate everyday mail threads (lunch plans, IT notices, customer escalations, agendas...)
    among the employees in ``people`` and the organization's group mailboxes, tagged
    ``distractor``; ids are ``e1``... in date order. ``min_size``/``max_size`` count threads (a
    thread may carry a reply). ``agent`` is accepted for symmetry: the agent reads all company mail,
    so distractors need not be addressed to it.

    Examples shrink towards fewer threads, no replies, the shortest templates, earlier times.
    """
    check_size(min_size, max_size)
    staff = tuple(p for p in people if not p.external)
    if not staff and max_size > 0:
        raise InvalidArgument("email_threads needs at least one employee (external=False) in people")

    @st.composite
    def build(draw: st.DrawFn) -> tuple[Email, ...]:
        c = HypothesisChoices(draw)
        bag = Mailbag()
        draw_distractors(c, bag, org, staff, c.between(min_size, max_size))
        return bag.finish(day)[0]

    return build()
