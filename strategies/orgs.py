"""Organizations: a company name, its mail domain and its industry, drawn from fixed Faker pools."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzzer.scenario import Organization
from strategies import _text
from strategies._choices import Choices, HypothesisChoices


def build_organization(c: Choices) -> Organization:
    company, industry = c.styles(len(_text.COMPANIES), len(_text.INDUSTRIES))
    name, domain = _text.COMPANIES[company]
    return Organization(name, domain, _text.INDUSTRIES[industry])


@st.composite
def _organizations(draw: st.DrawFn) -> Organization:
    return build_organization(HypothesisChoices(draw))


def organizations() -> st.SearchStrategy[Organization]:
    """Generate an ``Organization`` (a Faker company name, a ``.com`` domain made from it, an industry).

    Examples shrink towards SummitBridge (summitbridge.com), an energy company: the canonical
    setting of the published experiments.
    """
    return _organizations()
