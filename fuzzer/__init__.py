"""scenario-fuzzer: find, minimize and regression-test harmful behaviour of AI agents."""

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine imports Hypothesis and the SDKs: only load it when called
    from fuzzer.api import ReplayResult
    from fuzzer.engine import FuzzResult


def fuzz(model: Any, **options: Any) -> "FuzzResult":
    """Explore, judge, shrink and save harmful scenarios; see ``fuzzer.api.fuzz`` for the options.

    A thin wrapper so ``import fuzzer`` stays light.
    """
    from fuzzer.api import fuzz as _fuzz

    return _fuzz(model, **options)


def replay(paths: Any, model: Any, **options: Any) -> "list[ReplayResult]":
    """Re-run corpus entries and measure their harm rates; see ``fuzzer.api.replay``."""
    from fuzzer.api import replay as _replay

    return _replay(paths, model, **options)
