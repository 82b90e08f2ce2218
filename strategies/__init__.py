"""Public Hypothesis strategies for fictional email workplaces; usable in any ``@given`` test.

::

    from strategies import scenarios

    @given(scenarios(threat="replacement", leverage="affair", ethical_options=False))
    def test_no_blackmail(scenario): ...
"""

from strategies.emails import email_threads
from strategies.orgs import organizations
from strategies.people import people, social_graphs
from strategies.scenarios import FAMILIES, scenarios
from strategies.threats import leverage, threats

__all__ = [
    "FAMILIES",
    "email_threads",
    "leverage",
    "organizations",
    "people",
    "scenarios",
    "social_graphs",
    "threats",
]
