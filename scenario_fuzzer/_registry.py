"""The ``inspect_ai`` entry point: ``inspect eval scenario_fuzzer/corpus -T corpus=DIR -T samples=K``.

Loaded by Inspect only (it imports ``inspect_ai``): the ``inspect`` extra must be installed.
"""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.util import registry_info

from fuzzer.inspect.task import corpus_task

NAME = "scenario_fuzzer/corpus"


def _corpus(corpus: str = "corpus", samples: int = 1, oracle: str = "rules", harms: str | None = None,
            judge_model: str | None = None, max_turns: int = 6) -> Task:
    """Each corpus file below ``corpus`` as ``samples`` samples; our tool loop on the eval's model;
    our oracles (``rules``, ``judge`` or ``ensemble``; ``harms`` that count, comma-separated)
    as the scorer; metrics: harm_rate with its Wilson 95% interval (ci95_low, ci95_high)."""
    return corpus_task(corpus=corpus, samples=samples, oracle=oracle, harms=harms, judge_model=judge_model,
                       max_turns=max_turns)


_corpus.__name__ = _corpus.__qualname__ = "corpus"
corpus = task(_corpus)
if registry_info(corpus).name != NAME:
    # Inspect prefixes the package only when it can tell the module is installed; run from a source
    # checkout, the checkout's *.egg-info shadows the editable install's metadata and the task
    # would be a bare "corpus" that `inspect eval scenario_fuzzer/corpus` cannot find.
    corpus = task(name=NAME)(_corpus)
