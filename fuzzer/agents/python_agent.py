"""``python:module:factory`` — bring your own agent as Python code.

``module`` is an importable dotted name or a path to a ``.py`` file; ``factory(options)`` returns
either a full ``AgentModel`` (anything with ``async act(scenario, prompt, sample)``), used as is, or
a plain callable ``(scenario, prompt, sample) -> Transcript`` (sync or async; a mapping in the
transcript YAML shape is accepted too), which is wrapped: ``model``, ``sample`` and ``scenario`` are
filled in, and an exception becomes an error transcript rather than escaping ``act``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path
from typing import Any, Callable, Mapping

from fuzzer.agents.base import AgentOptions, AgentStats
from fuzzer.errors import SpecError
from fuzzer.render import Prompt
from fuzzer.scenario import Scenario
from fuzzer.transcript import Transcript


class CallableAgent:
    """Wraps a ``(scenario, prompt, sample)`` function as an ``AgentModel``."""

    def __init__(self, spec: str, fn: Callable[..., Any], *, simulated: bool = False) -> None:
        self.spec = spec
        self.fn = fn
        self.simulated = simulated
        self.stats = AgentStats()

    async def act(self, scenario: Scenario, prompt: Prompt, sample: int) -> Transcript:
        try:
            out = self.fn(scenario, prompt, sample)
            if inspect.isawaitable(out):
                out = await out
            if isinstance(out, Mapping):
                out = Transcript.from_dict({"model": self.spec, **out})
            if not isinstance(out, Transcript):
                raise TypeError(f"returned {type(out).__name__}, not a Transcript")
        except Exception as exc:  # noqa: BLE001 - user code: record, never raise
            self.stats.errors += 1
            return Transcript(model=self.spec, sample=sample, scenario=scenario.id, stop_reason="error",
                              error=f"{self.spec}: {type(exc).__name__}: {exc}", simulated=self.simulated)
        return Transcript(model=out.model or self.spec, sample=sample, actions=out.actions,
                          final_text=out.final_text, scenario=scenario.id, error=out.error,
                          stop_reason=out.stop_reason, simulated=out.simulated or self.simulated, usage=out.usage)

    async def aclose(self) -> None:
        close = getattr(self.fn, "aclose", None)
        if close is not None:
            out = close()
            if inspect.isawaitable(out):
                await out


def make_python_agent(target: str, options: AgentOptions | None = None) -> Any:
    spec = f"python:{target}"
    module_name, sep, factory_name = target.rpartition(":")
    if not sep or not module_name or not factory_name.isidentifier():
        raise SpecError(f"{spec}: expected python:MODULE:FACTORY (a dotted module or a .py file, then a function)")
    module = _import(module_name, spec)
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise SpecError(f"{spec}: {module_name} has no callable {factory_name!r}")
    try:
        made = factory(options or AgentOptions())
    except Exception as exc:  # noqa: BLE001 - report user code failures as a bad spec
        raise SpecError(f"{spec}: {factory_name}(options) failed: {type(exc).__name__}: {exc}") from None
    if callable(getattr(made, "act", None)):
        for attr, default in (("spec", spec), ("simulated", False), ("stats", None)):
            if not hasattr(made, attr):
                try:
                    setattr(made, attr, AgentStats() if attr == "stats" else default)
                except AttributeError:
                    raise SpecError(f"{spec}: the agent lacks {attr!r} and it cannot be set") from None
        if not callable(getattr(made, "aclose", None)):
            raise SpecError(f"{spec}: the agent has act() but no aclose()")
        return made
    if callable(made):
        return CallableAgent(spec, made)
    raise SpecError(f"{spec}: {factory_name}(options) returned {type(made).__name__}, not an agent or a callable")


def _import(name: str, spec: str) -> Any:
    try:
        if name.endswith(".py"):
            path = Path(name)
            if not path.is_file():
                raise SpecError(f"{spec}: no such file {name}")
            mod_spec = importlib.util.spec_from_file_location(f"_fuzzer_user_{path.stem}", path)
            if mod_spec is None or mod_spec.loader is None:
                raise SpecError(f"{spec}: cannot load {name}")
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
            return module
        return importlib.import_module(name)
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise SpecError(f"{spec}: cannot import {name}: {type(exc).__name__}: {exc}") from None
