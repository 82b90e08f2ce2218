"""Retry policy: what is transient, how long to wait, when to give up."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import pytest

from fuzzer.agents.retry import (
    RetryPolicy,
    Transient,
    call_with_retries,
    classify_sdk_error,
    describe_error,
    retry_after_seconds,
)
from fuzzer.errors import AgentError


class StatusError(Exception):
    """The shape both SDKs' APIStatusError share: status_code, response.headers, body."""

    def __init__(self, status: int, headers: dict[str, str] | None = None, etype: str = "api_error") -> None:
        super().__init__(f"status {status}")
        self.status_code = status
        self.response = type("R", (), {"headers": headers or {}})()
        self.body = {"type": "error", "error": {"type": etype, "message": f"{etype} happened"}}


class APIConnectionError(Exception):
    pass


@pytest.mark.parametrize("status, transient", [(400, False), (401, False), (404, False), (408, True), (409, True),
                                               (429, True), (500, True), (503, True), (529, True)])
def test_which_statuses_are_retried(status: int, transient: bool) -> None:
    assert (classify_sdk_error(StatusError(status)) is not None) is transient


def test_server_can_override_and_stream_errors_count() -> None:
    assert classify_sdk_error(StatusError(500, {"x-should-retry": "false"})) is None
    assert classify_sdk_error(StatusError(400, {"x-should-retry": "true"})) is not None
    assert classify_sdk_error(StatusError(200, etype="overloaded_error")) is not None   # SSE error event
    assert classify_sdk_error(StatusError(200, etype="invalid_request_error")) is None
    assert classify_sdk_error(APIConnectionError()) == Transient("connection error")
    assert classify_sdk_error(ValueError("bug")) is None


def test_retry_after_headers() -> None:
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3", "retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    soon = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_seconds({"retry-after": soon}) <= 31
    assert retry_after_seconds({"retry-after": "garbage"}) is None and retry_after_seconds({}) is None
    assert classify_sdk_error(StatusError(429, {"retry-after": "7"})).retry_after == 7.0


def test_backoff_grows_is_capped_and_obeys_retry_after() -> None:
    p = RetryPolicy(max_retries=10, base=1.0, cap=8.0)
    for attempt in range(10):
        d = p.delay(attempt, None)
        assert min(8.0, 2.0**attempt) * 0.5 <= d <= min(8.0, 2.0**attempt)
    assert 20.0 <= p.delay(0, 20.0) <= 22.0
    assert p.delay(0, 10_000.0) <= p.max_retry_after * 1.1


def test_call_with_retries_gives_up_with_agent_error() -> None:
    waits: list[float] = []
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise StatusError(529, etype="overloaded_error")
        return "ok"

    async def fake_sleep(s: float) -> None:
        waits.append(s)

    policy = RetryPolicy(max_retries=5, base=0.5)
    assert asyncio.run(call_with_retries(flaky, policy=policy, classify=classify_sdk_error, sleep=fake_sleep)) == "ok"
    assert calls == 3 and len(waits) == 2 and 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0

    async def always() -> Any:
        raise StatusError(500, {"retry-after-ms": "1"})

    with pytest.raises(AgentError, match=r"HTTP 500 api_error: api_error happened after 3 attempts"):
        asyncio.run(call_with_retries(always, policy=RetryPolicy(max_retries=2), classify=classify_sdk_error, sleep=fake_sleep))

    async def fatal() -> Any:
        raise StatusError(401, etype="authentication_error")

    with pytest.raises(AgentError, match=r"^HTTP 401 authentication_error"):
        asyncio.run(call_with_retries(fatal, policy=RetryPolicy(), classify=classify_sdk_error, sleep=fake_sleep))


def test_describe_error_is_one_line() -> None:
    exc = StatusError(500)
    exc.body["error"]["message"] = "line one\nline two"
    assert describe_error(exc) == "HTTP 500 api_error: line one line two"
