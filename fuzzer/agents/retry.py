"""Retries for model requests: exponential backoff with jitter, honouring ``retry-after``.

The SDKs' own retries are switched off (``max_retries=0``) so that one policy, one counter and one
concurrency slot cover every provider: a request that waits out a 429 gives its slot back while it
sleeps. What is transient: 408, 409, 429, any 5xx (529 overloaded included), a mid-stream
``overloaded_error``/``api_error`` event, timeouts and connection errors; a server's
``x-should-retry`` header overrides that. Everything else (400, 401, 404...) fails at once.
A request that fails for good raises ``AgentError``; the adapter turns it into an error transcript.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from fuzzer.errors import AgentError

T = TypeVar("T")

_TRANSIENT_STATUS = frozenset({408, 409, 429})
_TRANSIENT_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error", "server_error"})


@dataclass(frozen=True)
class Transient:
    """A failure worth retrying; ``retry_after`` is the server's requested wait in seconds."""

    reason: str
    retry_after: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base: float = 1.0            # first backoff, seconds; doubles per attempt
    cap: float = 60.0            # longest backoff without a retry-after
    max_retry_after: float = 600.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``.

        A server's retry-after is obeyed (never undercut, plus up to 10% jitter so a burst of
        throttled requests does not return in lockstep); otherwise half-jittered exponential backoff.
        """
        if retry_after is not None and retry_after > 0:
            return min(retry_after, self.max_retry_after) * random.uniform(1.0, 1.1)
        return min(self.cap, self.base * 2.0**attempt) * random.uniform(0.5, 1.0)


Classifier = Callable[[BaseException], "Transient | None"]


async def call_with_retries(
    fn: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    classify: Classifier,
    describe: Callable[[BaseException], str] | None = None,
    on_retry: Callable[[int, Transient, float], None] | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> T:
    """Await ``fn()`` until it succeeds, a failure is not transient, or retries run out (→ AgentError)."""
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as AgentError
            transient = classify(exc)
            if transient is None or attempt >= policy.max_retries:
                what = (describe or describe_error)(exc)
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise AgentError(f"{what}{tries}") from exc
            wait = policy.delay(attempt, transient.retry_after)
            if on_retry is not None:
                on_retry(attempt, transient, wait)
            await sleep(wait)
            attempt += 1


# -- classification of SDK errors (anthropic and openai share the same exception shapes) -----------
def classify_sdk_error(exc: BaseException) -> Transient | None:
    """Transient or not, for the anthropic and openai SDK exceptions (and plain network errors)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"APITimeoutError", "APIConnectionError"}:
        return Transient("timeout" if "APITimeoutError" in names else "connection error")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return Transient(type(exc).__name__)
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    if not isinstance(status, int):
        return None
    should = (headers.get("x-should-retry") or "").lower() if hasattr(headers, "get") else ""
    if should == "false":
        return None
    etype = error_type(exc)
    mid_stream = status < 400 and etype in _TRANSIENT_ERROR_TYPES   # an SSE error event on a 200 response
    if should == "true" or status in _TRANSIENT_STATUS or status >= 500 or mid_stream:
        return Transient(f"HTTP {status}" + (f" {etype}" if etype else ""), retry_after_seconds(headers))
    return None


def error_type(exc: BaseException) -> str | None:
    """``error.type`` from an API error body (``overloaded_error``, ``rate_limit_error``...)."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and isinstance(err.get("type"), str):
            return err["type"]
    t = getattr(exc, "type", None)
    return t if isinstance(t, str) else None


def retry_after_seconds(headers: Any) -> float | None:
    """``retry-after-ms`` (precise), else ``retry-after`` as seconds or an HTTP date; None if absent."""
    if not hasattr(headers, "get"):
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def describe_error(exc: BaseException) -> str:
    """One line, no request details (never headers or keys): status, error type, server message."""
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "api_message", None) or getattr(exc, "message", None) or str(exc) or type(exc).__name__
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        message = body["error"].get("message") or message
    etype = error_type(exc)
    parts = [f"HTTP {status}" if isinstance(status, int) else type(exc).__name__]
    if etype:
        parts.append(etype)
    line = " ".join(parts) + f": {message}"
    return " ".join(line.split())[:500]
