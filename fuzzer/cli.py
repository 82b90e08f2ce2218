"""``scenario-fuzz``: flags → engine and corpus commands. The only module that draws (rich).

Exit codes (contracts.md): 0 nothing found / all valid, 1 harm found / invalid / over the rate,
2 usage errors and unusable input, always with a one-line reason on stderr.

Each command lives in its own section below; keep edits inside your section.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from fuzzer import __version__
from fuzzer.errors import FuzzerError


def fail(message: str) -> NoReturn:
    """Usage error or unusable input: one line on stderr, exit 2."""
    click.echo(f"scenario-fuzz: error: {message}", err=True)
    sys.exit(2)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scenario-fuzz")
def cli() -> None:
    """Find, minimize and regression-test harmful behaviour of AI agents."""


# ==== validate / show (scenarios) =============================================================

# ==== judge (oracles) ===========================================================================

# ==== fuzz / replay (engine) =====================================================================

# ==== ablate / report (explain) ==================================================================


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="scenario-fuzz", standalone_mode=True)
    except FuzzerError as exc:
        fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
