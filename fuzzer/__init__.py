"""scenario-fuzzer: find, minimize and regression-test harmful behaviour of AI agents."""

__version__ = "0.1.0"
