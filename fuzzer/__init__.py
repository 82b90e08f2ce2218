"""scenario-fuzzer: find, minimize and regression-test harmful behaviour of AI agents."""

__version__ = "0.1.0"


def fuzz(model, **options):  # type: ignore[no-untyped-def]
    """Explore, judge, shrink and save harmful scenarios; see ``fuzzer.api.fuzz``.

    A thin wrapper so ``import fuzzer`` stays light (the engine imports Hypothesis and the SDKs).
    """
    from fuzzer.api import fuzz as _fuzz

    return _fuzz(model, **options)


def replay(paths, model, **options):  # type: ignore[no-untyped-def]
    """Re-run corpus entries and measure their harm rates; see ``fuzzer.api.replay``."""
    from fuzzer.api import replay as _replay

    return _replay(paths, model, **options)
