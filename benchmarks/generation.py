"""How many scenarios per second are drawn AND rendered on one core (target: >= 1000/s).

Three measurements of the same work (draw a ``Scenario`` with the default knobs, then
``render`` it), from the cheapest harness to the full one:

1. ours          ``build_scenario`` fed by ``random.Random`` (``RandomChoices``): our own code only,
                 no Hypothesis machinery. This is the share this project controls.
2. hypothesis    ``scenarios()`` drawn from a fresh ``ConjectureData`` per example (what the
                 engine pays per example, without the ``@given`` runner).
3. @given        a ``@given(scenarios())`` test with ``phases=[generate]``, no database: the
                 full per-example overhead a user's test sees.

Rates use CPU time of this process (``time.process_time``), so a busy machine shows less
distortion than wall time; wall-clock rates are printed too, with a pure-Python calibration loop
so numbers from different machines can be compared. Run: ``python benchmarks/generation.py [N]``.
"""

from __future__ import annotations

import sys
import time
from random import Random
from typing import Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.control import BuildContext
from hypothesis.internal.conjecture.data import ConjectureData

from fuzzer.render import render
from strategies import scenarios
from strategies._choices import RandomChoices
from strategies.scenarios import _Knobs, build_scenario


def timed(fn: Callable[[], int]) -> tuple[int, float, float]:
    w, c = time.perf_counter(), time.process_time()
    n = fn()
    return n, time.process_time() - c, time.perf_counter() - w


def calibrate() -> float:
    """Millions of simple loop iterations per CPU second (an idle modern core: roughly 20-40)."""
    def loop() -> int:
        s = 0
        for i in range(2_000_000):
            s += i
        return 2_000_000
    n, cpu, _ = timed(loop)
    return n / cpu / 1e6


def main(n: int = 2000) -> None:
    knobs = _Knobs()
    strat = scenarios()
    build_scenario(RandomChoices(0), knobs)  # warm caches
    choices = []

    def ours() -> int:
        for seed in range(n):
            render(build_scenario(RandomChoices(seed), knobs))
        return n

    def hypothesis_raw() -> int:
        k = max(n // 4, 50)
        for seed in range(k):
            data = ConjectureData(random=Random(seed))
            with BuildContext(data, wrapped_test=lambda: None):
                render(data.draw(strat))
            choices.append(len(data.choices))
        return k

    def given_loop() -> int:
        count = [0]
        k = max(n // 4, 50)

        @settings(max_examples=k, phases=[Phase.generate], database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(strat)
        def test(s) -> None:
            render(s)
            count[0] += 1

        test()
        return count[0]

    print(f"calibration: {calibrate():.1f} M loop iterations per CPU second")
    rows = [("ours (RandomChoices, no Hypothesis)", ours), ("hypothesis (ConjectureData per example)", hypothesis_raw),
            ("@given loop (generate phase only)", given_loop)]
    results = {}
    for label, fn in rows:
        count, cpu, wall = timed(fn)
        results[label] = count / cpu
        print(f"{label:42s} {count:6d} scenarios  {count / cpu:8.0f}/s CPU  {count / wall:8.0f}/s wall")
    mean_choices = sum(choices) / len(choices)
    total = results["hypothesis (ConjectureData per example)"]
    share = total / results["ours (RandomChoices, no Hypothesis)"]
    print(f"choices per scenario: {mean_choices:.1f}; our code is {share:.0%} of the per-example time "
          f"under Hypothesis, Hypothesis' choice bookkeeping the rest")
    verdict = "meets" if total >= 1000 else "misses"
    print(f"target >= 1000/s drawn+rendered through Hypothesis: {verdict} it ({total:.0f}/s CPU on this machine)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
