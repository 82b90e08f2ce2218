"""Model spec strings → agents: ``anthropic:MODEL``, ``openai:MODEL``, ``scripted:NAME``,
``local:PATH.gguf|NAME``, ``replay:PATH``, ``python:module:factory``.

Every backend module (and its SDK) is imported only when its spec is used, so the scripted and
replay paths work without network libraries loaded. A spec that cannot be built raises
``SpecError`` with a one-line reason; the CLI prints it and exits 2.
"""

from __future__ import annotations

from typing import Any

from fuzzer.agents.base import AgentModel, AgentOptions
from fuzzer.errors import SpecError

PROVIDERS = ("anthropic", "openai", "scripted", "local", "replay", "python")


def parse_spec(spec: str) -> tuple[str, str]:
    """``"anthropic:claude-x"`` → ``("anthropic", "claude-x")``; raises SpecError when malformed."""
    if not isinstance(spec, str) or ":" not in spec:
        raise SpecError(f"model spec {spec!r} must look like PROVIDER:NAME (providers: {', '.join(PROVIDERS)})")
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in PROVIDERS:
        raise SpecError(f"unknown model provider {kind!r} in {spec!r} (providers: {', '.join(PROVIDERS)})")
    if not rest.strip():
        raise SpecError(f"model spec {spec!r} names no model after '{kind}:'")
    return kind, rest.strip()


def load_agent(spec: str, options: AgentOptions | None = None) -> AgentModel:
    """Build the agent a spec names. Raises ``SpecError`` (one line) if it cannot be built."""
    kind, rest = parse_spec(spec)
    options = options or AgentOptions()
    if kind == "anthropic":
        from fuzzer.agents.anthropic_agent import make_anthropic_agent

        return make_anthropic_agent(rest, options)
    if kind == "openai":
        from fuzzer.agents.openai_agent import make_openai_agent

        return make_openai_agent(rest, options)
    if kind == "replay":
        from fuzzer.agents.replay import make_replay_agent

        return make_replay_agent(rest)
    if kind == "python":
        from fuzzer.agents.python_agent import make_python_agent

        return make_python_agent(rest, options)
    if kind == "scripted":
        module = _optional("fuzzer.agents.scripted", "scripted agents are not available")
        return module.make_scripted_agent(rest, options)
    module = _optional("fuzzer.agents.local", "local models need the optional extra: pip install 'scenario-fuzzer[local]'")
    return module.make_local_agent(rest, options)


def _optional(name: str, reason: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if exc.name is not None and not name.startswith(exc.name) and exc.name != name:
            reason = f"{reason} (missing {exc.name})"
        raise SpecError(f"{name.rsplit('.', 1)[1]}: {reason}") from None
