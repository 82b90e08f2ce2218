"""How many scenarios per second are drawn AND rendered on one core (target: >= 150/s through @given).

The strategies are plain ``@st.composite`` (one per family): generation matters only as far as it
is seen next to model calls, which cost seconds. The target is measured on harness 4 below, a
user's ``@given`` test; harness 2 is what the engine pays per example. Four harnesses do the same work, from the cheapest to the full one:

1. ours          ``draw_scenario`` fed by ``random.Random`` (``RandomChoices``), then ``render``:
                 our own code only, no Hypothesis machinery. The share this project controls.
2. hypothesis    ``ConjectureData(random=Random(seed))`` + ``BuildContext`` + ``data.draw(scenarios())``
                 + ``render``: what the engine pays per example, without the ``@given`` runner.
3. floor         the same ``ConjectureData`` + ``BuildContext`` + one top-level ``data.draw`` of a
                 strategy that only redraws the *same raw choices* (same types and bounds, recorded
                 from harness 2) and builds nothing: Hypothesis' own per-example cost for our choice
                 sequences, which no change to our code can remove (except drawing fewer choices).
4. @given        a ``@given(scenarios())`` test, ``phases=[generate]``, no database: the full
                 per-example overhead a user's test sees (the runner's bookkeeping on top of 2).

Method: each harness runs ``N`` examples per round, rounds interleave the harnesses (so a burst of
load from another process hits them all alike), and the rates reported are the median and the
best round. Rates use this process's CPU time (``time.process_time``), which excludes time spent
waiting for a core but not the slowdown of sharing one (hyperthreads, caches): on a loaded machine
the best round is the better estimate of the code's cost, the median the more conservative one.
The verdict uses the median. A pure-Python calibration loop and the load average are printed so
runs on different machines (or moments) can be compared.

Run: ``python benchmarks/generation.py [N] [ROUNDS]`` (defaults 600 and 5).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from random import Random
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.control import BuildContext
from hypothesis.internal.conjecture.data import ConjectureData
from hypothesis.strategies import SearchStrategy

from fuzzer.render import render
from strategies import scenarios
from strategies._choices import RandomChoices
from strategies._story import Knobs
from strategies.scenarios import draw_scenario

TARGET = 150.0


def cpu_seconds(fn: Callable[[], int]) -> tuple[int, float]:
    c = time.process_time()
    n = fn()
    return n, time.process_time() - c


def calibrate() -> float:
    """Millions of simple loop iterations per CPU second (an idle modern core: roughly 20-40)."""
    def loop() -> int:
        s = 0
        for i in range(2_000_000):
            s += i
        return 2_000_000
    n, cpu = cpu_seconds(loop)
    return n / cpu / 1e6


class _Replay(SearchStrategy[None]):
    """Redraws a recorded list of raw choice (type, constraints), building nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[tuple[str, dict[str, Any]]] = []

    def do_draw(self, data: Any) -> None:
        for kind, constraints in self.nodes:
            if kind == "integer":
                data.draw_integer(**constraints)
            else:
                data.draw_boolean(**constraints)


def main(n: int = 600, rounds: int = 5) -> None:
    knobs = Knobs()
    strat = scenarios()
    for seed in range(50):  # warm caches (pools, pickled tool specs, Hypothesis' constant pools)
        render(draw_scenario(RandomChoices(seed), knobs))
    recorded: list[list[tuple[str, dict[str, Any]]]] = []
    choices: list[int] = []

    def ours() -> int:
        for seed in range(n):
            render(draw_scenario(RandomChoices(seed), knobs))
        return n

    def hypothesis() -> int:
        record = not recorded
        for seed in range(n):
            data = ConjectureData(random=Random(seed))
            with BuildContext(data, wrapped_test=lambda: None):
                render(data.draw(strat))
            if record:
                choices.append(len(data.nodes))
                recorded.append([(node.type, dict(node.constraints)) for node in data.nodes])
        return n

    replay = _Replay()

    def floor() -> int:
        for seed in range(n):
            replay.nodes = recorded[seed]
            data = ConjectureData(random=Random(seed))
            with BuildContext(data, wrapped_test=lambda: None):
                data.draw(replay)
        return n

    def given_loop() -> int:
        count = [0]

        @settings(max_examples=n, phases=[Phase.generate], database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(strat)
        def test(s) -> None:
            render(s)
            count[0] += 1

        test()
        return count[0]

    harnesses = [
        ("ours", "ours (RandomChoices, no Hypothesis)", ours),
        ("hypothesis", "hypothesis (ConjectureData per example)", hypothesis),
        ("floor", "floor (same raw choices, no our code)", floor),
        ("given", "@given loop (generate phase only)", given_loop),
    ]
    rates: dict[str, list[float]] = {key: [] for key, _, _ in harnesses}
    cal = [calibrate()]
    for _ in range(rounds):
        for key, _, fn in harnesses:
            count, cpu = cpu_seconds(fn)
            rates[key].append(count / cpu)
    cal.append(calibrate())

    load = os.getloadavg()
    print(f"{n} examples x {rounds} rounds per harness; load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; "
          f"calibration {min(cal):.1f}-{max(cal):.1f} M loop iterations per CPU second")
    print(f"{'harness':42s} {'median/s':>9s} {'best/s':>9s} {'us/example':>11s}  (CPU time; us from the median)")
    med = {k: statistics.median(v) for k, v in rates.items()}
    for key, label, _ in harnesses:
        print(f"{label:42s} {med[key]:9.0f} {max(rates[key]):9.0f} {1e6 / med[key]:11.0f}")
    per = {k: 1e6 / v for k, v in med.items()}
    print(f"choices per scenario: {statistics.mean(choices):.1f}")
    print(f"per example under Hypothesis: {per['hypothesis']:.0f} us = Hypothesis' own cost for these choices "
          f"(floor) {per['floor']:.0f} us + ours {per['hypothesis'] - per['floor']:.0f} us "
          f"(ours measured alone, incl. random.Random: {per['ours']:.0f} us)")
    print(f"our code is {1 - per['floor'] / per['hypothesis']:.0%} of the per-example time under Hypothesis; "
          f"Hypothesis alone would allow at most {med['floor']:.0f}/s")
    verdict = "meets" if med["given"] >= TARGET else "misses"
    print(f"target >= {TARGET:.0f}/s drawn+rendered through @given: {verdict} it "
          f"(median {med['given']:.0f}/s, best {max(rates['given']):.0f}/s CPU on this machine)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
