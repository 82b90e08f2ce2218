"""Unexpected exceptions: logged with a traceback once per kind, counted for the run's summary.

Why: an agent or oracle that raises something we did not raise on purpose (a bug of ours, a
provider SDK surprise) must not vanish into an ``error`` sample. The sample is still recorded as
an error (errors are never harmless), but the first exception of each kind (type and the place it
was raised) is logged with its full traceback on the ``fuzzer`` logger, and every occurrence is
counted, so a summary can say "unexpected: KeyError in oracles/leak.py:88 (x12)". Exceptions from
``fuzzer.errors`` (raised on purpose, one line each) are not unexpected and are not recorded here.

The record is process-wide (a run is one process; the pytest plugin and the CLI read it at the
end): ``note`` records, ``counts`` reads, ``reset`` clears at the start of a run.
"""

from __future__ import annotations

import logging
import threading
import traceback

log = logging.getLogger("fuzzer")

_lock = threading.Lock()
_counts: dict[str, int] = {}


def kind_of(exc: BaseException) -> str:
    """``"KeyError at oracles/leak.py:88"``: the type and the innermost frame that raised it."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    parts = last.filename.replace("\\", "/").split("/")
    return f"{type(exc).__name__} at {'/'.join(parts[-2:])}:{last.lineno}"


def note(exc: BaseException, where: str) -> str:
    """Record an unexpected exception raised in ``where`` (e.g. ``"agent anthropic:m"``).

    Logs the traceback the first time this kind is seen; returns the kind."""
    kind = kind_of(exc)
    with _lock:
        first = kind not in _counts
        _counts[kind] = _counts.get(kind, 0) + 1
    if first:
        log.error("unexpected %s in %s (logged once per kind):\n%s", kind, where,
                  "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())
    return kind


def counts() -> dict[str, int]:
    """Each unexpected kind seen since the last ``reset``, with how often, most frequent first."""
    with _lock:
        return dict(sorted(_counts.items(), key=lambda kv: (-kv[1], kv[0])))


def summary() -> str | None:
    """One line for a run's summary, or None when nothing unexpected happened."""
    seen = counts()
    if not seen:
        return None
    return "unexpected exceptions (traceback logged once each): " + "; ".join(
        f"{kind} (x{n})" for kind, n in seen.items())


def reset() -> None:
    with _lock:
        _counts.clear()
