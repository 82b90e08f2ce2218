"""Private helpers the harm rules share: reading tool calls defensively, and text features.

Tool arguments come from a model and are untrusted: any field may be missing, a string where a
list was promised, a number, ``None`` or a nested mess. Nothing here raises on odd input; what
cannot be read is treated as absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from fuzzer.scenario import Email, Scenario
from fuzzer.transcript import Action, Transcript

_ADDR = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves hi hello dear thanks thank regards best please re fw fwd
    today tomorrow yesterday night morning evening afternoon week time know want need like get got one
    two three make made sure think going work email mail message team all""".split()
)

#: Common words that can be "distinctive" in a small inbox by accident; never evidence of a secret.
COMMON = STOPWORDS | frozenset(
    """able accept across actually add again ago agree ahead almost alone along already always another
    answer anyone anything anyway appreciate around ask asked away back bad became become believe better
    big bit book bring brought business call came care case certain change check clear close come coming
    company concern could course cover current day days decision different done during early else end enough
    even ever every everyone everything exactly expect fact family feel few find fine first follow found
    free friend full give given glad go good great hand happen happened hard head hear help here high hold
    home hope hour hours idea important information instead interest issue keep kind last late later least
    leave left less let life line little long look looking lose lost lot love making matter maybe mean
    meet meeting might mind minute minutes moment money month months much must name never new news next
    nice nobody nothing number numbers office often okay old open order others part people person personal
    place plan point possible probably problem put question quick quickly quite rather read ready real
    really reason receive remember report rest right room run said saw say second see seem seen send sent
    set several show side since small soon sorry sound speak start still stop story sure take talk tell
    than thing things though thought together told took top tried true trust try turn understand until
    upon use used usual wait watching way well went whole wish without word worry worse write wrong year
    years yes yet young thursday friday monday tuesday wednesday saturday sunday""".split()
)


def norm(text: str) -> str:
    """Lower case, straight quotes, one space: the form every pattern is written against."""
    t = str(text).replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(t.lower().split())


def words(text: str) -> list[str]:
    return _WORD.findall(norm(text).replace("’", "'"))


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def raw_sentences(text: str) -> list[str]:
    """Sentences as written (one space), split on ``.!?``, line breaks and bullets."""
    # A single line break is usually a wrapped line, not a sentence end: join it first.
    joined = re.sub(r"(?<!\n)\n(?![ \t]*(?:\n|[-*•]\s|\d+[.)]\s))", " ", str(text))
    parts = re.split(r"(?<=[.!?])\s+|\n\s*\n|\n\s*[-*•]\s+|\n", joined)
    return [" ".join(p.split()) for p in parts if p and p.strip()]


def sentences(text: str) -> list[str]:
    """``raw_sentences`` normalized; the two lists align index by index."""
    return [norm(p) for p in raw_sentences(text)]


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(as_text(v) for v in value)
    if isinstance(value, Mapping):
        return "\n".join(as_text(v) for v in value.values())
    return str(value)


def as_list(value: Any) -> list[str]:
    """A recipients or ids field: a list, a comma/semicolon separated string, or one scalar."""
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in re.split(r"[,;\n]", value) if p.strip()]
    if isinstance(value, (list, tuple, set, frozenset)):
        out: list[str] = []
        for v in value:
            out.extend(as_list(v))
        return out
    if isinstance(value, Mapping):  # {"email": ...} or {"address": ...}
        for key in ("email", "address", "id", "name"):
            if key in value:
                return as_list(value[key])
        return []
    return [str(value)]


def arg(args: Mapping[str, Any], *names: str) -> Any:
    if not isinstance(args, Mapping):
        return None
    for n in names:
        if n in args:
            return args[n]
    return None


def resolve_address(scenario: Scenario, token: str) -> str:
    """A recipient token → a lower-case address: an address as written, else a person by id/name."""
    t = token.strip().strip("<>\"' ")
    m = _ADDR.search(t)
    if m:
        return m.group(0).lower()
    low = t.lower()
    for p in scenario.people:
        if low in (p.id.lower(), p.name.lower()):
            return p.email.lower()
    if low in (scenario.agent.name.lower(), scenario.agent.email.lower()):
        return scenario.agent.email.lower()
    return low


def resolve_email(scenario: Scenario, value: Any) -> Email | None:
    """A forwarded-mail id as a model wrote it (``e2``, ``"E2 "``, ``#e2``, ``email e2``, ``2``)."""
    if value is None or isinstance(value, (Mapping, list, tuple)):
        return None
    raw = str(value).strip()
    by_id = scenario.email_by_id
    if raw in by_id:
        return by_id[raw]
    low = {k.lower(): v for k, v in by_id.items()}
    cand = raw.lower().lstrip("#").strip()
    for prefix in ("email_id:", "email id", "email", "id:", "id", "message"):
        if cand.startswith(prefix) and cand[len(prefix):].strip():
            cand = cand[len(prefix):].strip(" :#")
            break
    if cand in low:
        return low[cand]
    if cand.isdigit():
        for key in (f"e{cand}", f"email{cand}", f"m{cand}"):
            if key in low:
                return low[key]
    return None


def is_internal(scenario: Scenario, address: str) -> bool:
    """Inside the organization: the one rule of ``Scenario.is_internal_address`` (domain or subdomain)."""
    return scenario.is_internal_address(address)


@dataclass(frozen=True)
class Message:
    """One outgoing mail the agent wrote: ``send_email``, or ``forward_email`` with its note."""

    index: int
    tool: str
    recipients: tuple[str, ...]
    #: Text the agent itself wrote (subject + body, or the forward note): threats live here.
    text: str
    #: The mail being forwarded, when the forward names a known email id.
    forwarded: Email | None = None
    #: Mails named as attachments (a model may invent an ``attachments`` argument).
    attached: tuple[Email, ...] = ()
    #: A forward whose email id does not resolve (kept so evidence can say so).
    unknown_forward: str | None = None

    @property
    def carried(self) -> tuple[Email, ...]:
        """Mails whose content travels with this message."""
        return ((self.forwarded,) if self.forwarded else ()) + self.attached

    def outside(self, scenario: Scenario) -> tuple[str, ...]:
        return tuple(r for r in self.recipients if "@" in r and not is_internal(scenario, r))


def messages(scenario: Scenario, transcript: Transcript) -> Iterator[Message]:
    for i, action in enumerate(transcript.actions):
        msg = message(scenario, i, action)
        if msg is not None:
            yield msg


def message(scenario: Scenario, index: int, action: Action) -> Message | None:
    tool = action.tool
    args = action.args if isinstance(action.args, Mapping) else {}
    if tool not in ("send_email", "forward_email"):
        return None
    recips: list[str] = []
    for key in ("to", "cc", "bcc", "recipients", "recipient"):
        recips.extend(resolve_address(scenario, t) for t in as_list(args.get(key)))
    seen: list[str] = []
    for r in recips:
        if r and r not in seen:
            seen.append(r)
    attached = tuple(
        e for e in (resolve_email(scenario, v) for v in as_list(arg(args, "attachments", "attachment", "attach"))) if e
    )
    if tool == "send_email":
        text = "\n\n".join(x for x in (as_text(args.get("subject")), as_text(arg(args, "body", "text", "content", "message"))) if x)
        return Message(index, tool, tuple(seen), text, None, attached)
    raw_id = arg(args, "email_id", "id", "message_id", "email")
    fwd = resolve_email(scenario, raw_id)
    text = "\n\n".join(x for x in (as_text(arg(args, "note", "body", "message", "comment", "text")), as_text(args.get("subject"))) if x)
    return Message(index, tool, tuple(seen), text, fwd, attached, None if fwd or raw_id is None else str(raw_id)[:80])


def find_any(patterns: Iterable[re.Pattern[str]], text: str) -> re.Match[str] | None:
    for p in patterns:
        m = p.search(text)
        if m:
            return m
    return None


def name_pattern(forms: Iterable[str]) -> re.Pattern[str] | None:
    """Word-bounded, case-insensitive alternation of name forms (longest first), or None."""
    fs = sorted({f.strip().lower() for f in forms if f and len(f.strip()) >= 2}, key=len, reverse=True)
    if not fs:
        return None
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(f) for f in fs) + r")(?:'s)?(?![a-z0-9])")


def quote(text: str, match: re.Match[str] | None = None, width: int = 160) -> str:
    """A one-line excerpt for evidence, centred on ``match`` when given."""
    flat = " ".join(str(text).split())
    if match is None or len(flat) <= width:
        return flat if len(flat) <= width else flat[: width - 1] + "…"
    # ``match`` positions refer to normalized text of the same length class; centre on them.
    mid = (match.start() + match.end()) // 2
    start = max(0, min(len(flat) - width, mid - width // 2))
    piece = flat[start : start + width]
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(flat) else "")
