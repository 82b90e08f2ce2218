"""People: employees at the organization's domain, or outsiders at personal or other domains.

Names come from fixed pools by index. Person ``i`` takes the pool entry at ``i + offset``, so
when the offsets shrink to 0 the cast reads like the canonical one (Kyle Johnson, Thomas Reed,
Maria Chen...) instead of several people with the same name. Ids and addresses are made unique
deterministically (``kyle``, ``kyle-johnson``, ``kyle-2``...), never by rejection, so every draw
is a valid cast.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from fuzzer.scenario import Organization, Person, Relationship
from strategies import _text
from strategies._choices import Choices, HypothesisChoices

_F, _L, _R, _D = len(_text.FIRST_NAMES), len(_text.LAST_NAMES), len(_text.ROLES), len(_text.FREE_MAIL)
Spec = tuple[int, int, int, int]


def person_spec(c: Choices) -> Spec:
    """(first-name offset, last-name offset, role offset, personal-domain index), as one choice."""
    a, b, r, d = c.styles(_F, _L, _R, _D)
    return a, b, r, d


class Namer:
    """Hands out unique person ids and addresses for one scenario."""

    def __init__(self, taken_addresses: tuple[str, ...] = ()) -> None:
        self.ids: set[str] = set()
        self.addresses: set[str] = {a.lower() for a in taken_addresses}

    def _id(self, first: str, last: str) -> str:
        base = first.lower()
        for cand in (base, f"{base}-{last.lower()}"):
            if cand not in self.ids:
                self.ids.add(cand)
                return cand
        k = 2
        while f"{base}-{k}" in self.ids:
            k += 1
        self.ids.add(f"{base}-{k}")
        return f"{base}-{k}"

    def _address(self, local: str, domain: str) -> str:
        cand, k = f"{local}@{domain}", 2
        while cand.lower() in self.addresses:
            cand, k = f"{local}{k}@{domain}", k + 1
        self.addresses.add(cand.lower())
        return cand

    def person(self, first: str, last: str, domain: str, role: str, external: bool) -> Person:
        pid = self._id(first, last)
        email = self._address(f"{first}.{last}".lower(), domain)
        return Person(pid, f"{first} {last}", email, role, external)

    def named(self, name: str, address: str, role: str) -> Person:
        """An outside party with a fixed address (a regulator's tip line)."""
        slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
        pid = self._id(slug.split("-")[0], slug)
        local, _, domain = address.partition("@")
        return Person(pid, name, self._address(local, domain), role, True)


def staff_person(namer: Namer, org: Organization, position: int, spec: Spec) -> Person:
    a, b, r, _ = spec
    return namer.person(
        _text.FIRST_NAMES[(position + a) % _F], _text.LAST_NAMES[(position + b) % _L],
        org.domain, _text.ROLES[(position + r) % _R], False,
    )


def outside_person(
    namer: Namer, position: int, spec: Spec, role: str = "friend", avoid: str = ""
) -> Person:
    a, b, _, d = spec
    domain = _text.FREE_MAIL[d]
    if domain == avoid.lower():  # an organization on a free-mail domain: stay outside it
        domain = _text.FREE_MAIL[(d + 1) % len(_text.FREE_MAIL)]
    return namer.person(
        _text.PARTNER_FIRST[(position + a) % len(_text.PARTNER_FIRST)],
        _text.PARTNER_LAST[(position + b) % len(_text.PARTNER_LAST)],
        domain, role, True,
    )


def check_size(min_size: int, max_size: int) -> None:
    if not (isinstance(min_size, int) and isinstance(max_size, int)) or not 0 <= min_size <= max_size:
        raise InvalidArgument(f"need 0 <= min_size <= max_size, got min_size={min_size!r}, max_size={max_size!r}")


def people(
    org: Organization, *, min_size: int = 1, max_size: int = 6, external: bool = False
) -> st.SearchStrategy[tuple[Person, ...]]:
    """Generate a tuple of distinct ``Person`` (unique ids and addresses).

    Employees (``external=False``) get ``first.last@<org.domain>`` and a role; outsiders
    (``external=True``) get a personal address (gmail.com, outlook.com...). Examples shrink
    towards fewer people and towards the canonical names and roles (Kyle Johnson, CTO first).
    """
    if not isinstance(org, Organization):
        raise InvalidArgument(f"org must be an Organization, got {org!r}")
    check_size(min_size, max_size)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[Person, ...]:
        c = HypothesisChoices(draw)
        namer = Namer()
        out = []
        for i in range(c.between(min_size, max_size)):
            spec = person_spec(c)
            out.append(outside_person(namer, i, spec, avoid=org.domain) if external else staff_person(namer, org, i, spec))
        return tuple(out)

    return build()


def draw_edges(c: Choices, ids: tuple[str, ...], max_edges: int) -> list[Relationship]:
    """Ordinary ties between people by index; a repeated (source, target, kind) is dropped."""
    n = len(ids)
    if n < 2 or max_edges == 0:
        return []
    edges, seen = [], set()
    for _ in range(c.between(0, max_edges)):
        i, j, kind = c.styles(n, n - 1, len(_EDGE_KINDS))
        j = j + 1 if j >= i else j  # any other person: no rejection, shrinks toward persons 0 and 1
        key = (ids[i], ids[j], _EDGE_KINDS[kind])
        if key not in seen:
            seen.add(key)
            edges.append(Relationship(*key, False))
    return edges


_EDGE_KINDS = ("colleague", "reports_to", "friend", "contact")


def social_graphs(people: tuple[Person, ...], *, max_edges: int = 4) -> st.SearchStrategy[tuple[Relationship, ...]]:
    """Generate ordinary relationships (colleague, reports_to, friend, contact) between ``people``.

    Endpoints are drawn by index into ``people``, so every edge refers to a listed person and never
    to itself. Secret and intimate edges (affair, spouse) belong to the ground truth that
    ``scenarios()`` writes together with its evidence, not here. Examples shrink towards no
    edges, then edges between the first people.
    """
    ids = tuple(p.id for p in people)
    if len(set(ids)) != len(ids):
        raise InvalidArgument("people must have distinct ids")
    if not isinstance(max_edges, int) or max_edges < 0:
        raise InvalidArgument(f"max_edges must be a non-negative int, got {max_edges!r}")

    @st.composite
    def build(draw: st.DrawFn) -> tuple[Relationship, ...]:
        return tuple(draw_edges(HypothesisChoices(draw), ids, max_edges))

    return build()
