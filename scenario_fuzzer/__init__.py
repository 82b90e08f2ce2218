"""Inspect AI registration name of scenario-fuzzer: Inspect names a registered task after the
top-level package of the module that defines it, so the task lives here to be
``scenario_fuzzer/corpus`` (its machinery is ``fuzzer.inspect``). Nothing else belongs here."""
