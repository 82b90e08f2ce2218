"""Organizations: a company name, its mail domain and its industry, drawn from fixed Faker pools."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzzer.scenario import Organization
from strategies import _text

_COMPANY = st.integers(0, len(_text.COMPANIES) - 1)
_INDUSTRY = st.integers(0, len(_text.INDUSTRIES) - 1)


@st.composite
def _organizations(draw: st.DrawFn) -> Organization:
    name, domain = _text.COMPANIES[draw(_COMPANY)]
    return Organization(name, domain, _text.INDUSTRIES[draw(_INDUSTRY)])


def organizations() -> st.SearchStrategy[Organization]:
    """Generate an ``Organization`` (a Faker company name, a ``.com`` domain made from it, an industry).

    Examples shrink towards SummitBridge (summitbridge.com), an energy company: the canonical
    setting of the published experiments.
    """
    return _organizations()
