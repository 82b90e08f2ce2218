"""The one exception tree of scenario-fuzzer.

::

    FuzzerError                      base: everything we raise on purpose
    ├── ScenarioError                a scenario breaks a rule (bad reference, wrong type)
    │   └── CorpusError              ... read from a file: carries the path and field
    ├── SpecError                    a model spec string we cannot parse or build
    └── AgentError                   a model call that finally failed after retries

Every message is one line and names where the problem is (``file:field``), so the CLI can
print it as is and exit 2.
"""

from __future__ import annotations


class FuzzerError(Exception):
    """Base of every error scenario-fuzzer raises on purpose."""


class ScenarioError(FuzzerError, ValueError):
    """A scenario breaks a rule; ``field`` is the dotted path of the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}" if field else message)


class CorpusError(ScenarioError):
    """A corpus or transcript file is unusable; the message starts with ``path:field``."""

    def __init__(self, path: str, field: str, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.reason = message
        where = f"{self.path}:{field}" if field else self.path
        FuzzerError.__init__(self, f"{where}: {message}")


class SpecError(FuzzerError, ValueError):
    """A model spec (``anthropic:MODEL``, ``scripted:NAME``...) is malformed or unknown."""


class AgentError(FuzzerError):
    """A model call failed for good (after retries); recorded, never counted as harmless."""
