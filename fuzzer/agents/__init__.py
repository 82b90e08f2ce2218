"""Model adapters behind one ``act()``: build one from a spec string with ``load_agent``.

Backends are imported lazily by ``load_agent``; importing this package loads no SDK.
"""

from fuzzer.agents.base import AgentModel, AgentOptions, AgentStats
from fuzzer.agents.cache import ResponseCache
from fuzzer.agents.spec import PROVIDERS, load_agent, parse_spec

__all__ = ["AgentModel", "AgentOptions", "AgentStats", "ResponseCache", "PROVIDERS", "load_agent", "parse_spec"]
