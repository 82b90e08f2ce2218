"""One SDK client per event loop, shared by the anthropic and openai providers.

An SDK's async client owns an httpx connection pool bound to the event loop that opened it. The
CLI runs one loop, but a plugin or a script may call ``asyncio.run`` several times with the same
agent; each loop then gets its own client. A client left behind on a loop that is already closed
cannot be closed any more (its sockets belong to the dead loop), so it is marked closed and left
to the garbage collector instead of letting its finalizer fail noisily on the next loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable


class LoopBoundClient:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._client is not None and self._loop is not None and self._loop.is_closed():
                _abandon(self._client)
            self._client, self._loop = self.factory(), loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            _abandon(client)
            return
        try:
            await client.close()
        except RuntimeError:  # its loop is gone: nothing left to release
            _abandon(client)


def _abandon(client: Any) -> None:
    inner = getattr(client, "_client", None)
    state = getattr(inner, "_state", None)
    if state is not None:
        try:
            inner._state = type(state).CLOSED
        except (AttributeError, TypeError):
            pass
