"""``--batch``: the anthropic adapter's requests through the Message Batches API (half price).

Why here and not in the engine: the engine already runs many samples concurrently, and each sample
awaits one request at a time. ``BatchSender`` collects the requests that arrive within a short
window (``window`` seconds) into one batch — the first turns of every sample in flight — submits
it with the SDK's public ``messages.batches.create``, polls ``retrieve`` with exponential backoff
(``poll_min`` doubling to ``poll_max``), reads ``results`` and resolves each waiting request by its
``custom_id``. A sample's next turn arrives after its previous one resolved, so multi-turn samples
continue in later batches by themselves; nothing upstream knows requests were batched.

``custom_id`` is the request's response-cache key (``fuzzer.agents.cache.cache_key``, given by the
tool loop), so every result lands in the same cache as a direct call would, under the same key.
A successful entry is written to the cache as soon as its batch's results are read, even if no
one waits for it any more.

Crash safety: each created batch is recorded (id, custom ids and their cache keys) in a small
JSON file next to the response cache (``<cache>.batches.json``, written atomically) until its
results are read. A new run first harvests every recorded batch — polls it, writes its results to
the cache, drops the record — and a request whose ``custom_id`` is in a recorded batch waits for
that batch instead of being sent again: a crash mid-batch never pays twice. Without a response
cache (``--no-cache``) nothing is recorded: such a rerun pays again anyway.

Ctrl-C (``aclose``): every batch this process created and not yet read is cancelled with
``messages.batches.cancel``; its record stays, so the next run harvests the entries the API had
already answered (and pays only for the cancelled rest).

Errors: an ``errored`` entry raises ``BatchEntryError`` with the API's error type; ``expired``
and ``canceled`` entries, and overloaded/api errors, are transient, so the tool loop's normal
retry policy resubmits them in a later batch; any other error fails the sample like a direct call.
A batch-level failure (create refused, poll refused for good) fails its waiting requests the same
way. Polls that fail transiently are simply retried at the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any, Mapping

from fuzzer.agents.retry import Transient, classify_sdk_error

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
#: Error types of an errored entry worth resubmitting (as for a direct call's HTTP error).
_TRANSIENT_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error", "server_error",
                              "expired", "canceled"})
#: Most requests per batch (the API allows 100 000 requests or 256 MB).
MAX_BATCH = 10_000


class BatchEntryError(Exception):
    """One batch entry did not succeed: ``kind`` is the API's error type, or expired / canceled."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"batch entry {kind}: {message}")
        self.kind = self.type = kind     # ``type`` as on SDK errors: retry.describe_error shows it
        self.message = message


def classify_batch_error(exc: BaseException) -> Transient | None:
    """Transient for expired / canceled / overloaded entries; None for anything else."""
    if isinstance(exc, BatchEntryError) and exc.kind in _TRANSIENT_TYPES:
        return Transient(f"batch entry {exc.kind}")
    return None


def custom_id(key: str) -> str:
    """A batch ``custom_id`` (``[a-zA-Z0-9_-]{1,64}``) for a cache key: the key itself when it fits."""
    return key if _CUSTOM_ID.match(key) else hashlib.sha256(key.encode()).hexdigest()


class PendingStore:
    """Created-but-unread batches, ``{batch_id: {custom_id: cache_key}}``, in one JSON file.

    Every change rewrites the file atomically (temp file, fsync, rename), so a crash leaves the
    old or the new record, never half of one. A file that cannot be read is treated as empty
    (a corrupt record must not block a run; at worst a batch is paid again).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(b): {str(c): str(k) for c, k in ids.items()} for b, ids in data.items() if isinstance(ids, dict)}

    def add(self, batch_id: str, ids: Mapping[str, str]) -> None:
        with self._lock:
            data = self.load()
            data[batch_id] = dict(ids)
            self._write(data)

    def remove(self, batch_id: str) -> None:
        with self._lock:
            data = self.load()
            if data.pop(batch_id, None) is not None:
                self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        from fuzzer.corpus import write_atomic

        if data:
            write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")
        else:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def store_for(cache: Any) -> PendingStore | None:
    """The pending-batch record next to a response cache file, or None (no cache, or in memory)."""
    path = getattr(cache, "path", None)
    if not path or path == ":memory:":
        return None
    return PendingStore(Path(path).with_name(Path(path).name + ".batches.json"))


class BatchSender:
    """Collects concurrent requests into Message Batches for one ``AnthropicProvider``.

    ``window``, ``poll_min`` and ``poll_max`` default to the provider's retry settings
    (``backoff_base``, capped at 1 s for the window, and ``backoff_max``), so tests that make
    retries fast make batching fast too. ``batches_created``, ``polls`` and ``resumed`` count what
    happened (for tests and benchmarks).
    """

    def __init__(self, provider: Any) -> None:
        options = provider.options
        self.provider = provider
        self.window = min(1.0, max(0.001, float(options.backoff_base)))
        self.poll_min = max(0.001, float(options.backoff_base))
        self.poll_max = max(self.poll_min, float(options.backoff_max))
        self.cache = options.cache
        self.store = store_for(self.cache)
        self.batches_created = 0
        self.polls = 0
        self.resumed = 0
        self._waiting: dict[str, asyncio.Future[Any]] = {}     # custom_id -> its result
        self._queue: list[tuple[str, str, dict[str, Any]]] = []  # (custom_id, cache key, request) to send
        self._flush: asyncio.Task[Any] | None = None
        self._creating: set[asyncio.Task[Any]] = set()
        self._pollers: dict[str, asyncio.Task[Any]] = {}       # batch id -> its poller
        self._owned: set[str] = set()                          # batch ids created by this process
        self._recorded: dict[str, str] = {}                    # custom_id -> recorded batch id
        self._harvested = False
        self._closed = False

    # -- the request side --------------------------------------------------------------------------
    async def submit(self, request: dict[str, Any], key: str) -> Any:
        """The reply to ``request`` once its batch has ended (raises ``BatchEntryError`` etc.)."""
        if self._closed:
            raise asyncio.CancelledError("batch sender closed")
        self._harvest()
        cid = custom_id(key)
        future = self._waiting.get(cid)
        if future is None or future.done():
            future = self._waiting[cid] = asyncio.get_running_loop().create_future()
            if self._recorded.get(cid) not in self._pollers:   # not in a batch being polled: send it
                self._recorded.pop(cid, None)
                self._queue.append((cid, key, request))
                if self._flush is None or self._flush.done():
                    self._flush = asyncio.ensure_future(self._flush_after_window())
        return await asyncio.shield(future)

    def _harvest(self) -> None:
        """Once per sender: poll every batch a previous run recorded and did not read."""
        if self._harvested:
            return
        self._harvested = True
        if self.store is None:
            return
        for batch_id, ids in self.store.load().items():
            self.resumed += 1
            for cid in ids:
                self._recorded[cid] = batch_id
            self._pollers[batch_id] = asyncio.ensure_future(self._poll(batch_id, ids))

    async def _flush_after_window(self) -> None:
        await asyncio.sleep(self.window)
        while self._queue:
            chunk, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            # Shielded: once sent, a create must be seen through and recorded even on Ctrl-C, or
            # the API would process (and bill) a batch nobody knows the id of.
            task = asyncio.ensure_future(self._create(chunk))
            self._creating.add(task)
            task.add_done_callback(self._creating.discard)
            await asyncio.shield(task)

    async def _create(self, chunk: list[tuple[str, str, dict[str, Any]]]) -> None:
        from fuzzer.agents.anthropic_agent import SAMPLING_API_VERSION

        requests, headers = [], {}
        for cid, _, request in chunk:
            params = dict(request)
            if params.get("temperature") is not None:
                headers = {"anthropic-version": SAMPLING_API_VERSION}   # the version that takes it
            requests.append({"custom_id": cid, "params": params})
        try:
            batch = await self.provider.client().messages.batches.create(
                requests=requests, **({"extra_headers": headers} if headers else {}))
        except Exception as exc:  # noqa: BLE001 - each waiting request sees it and retries or fails
            self._fail([cid for cid, _, _ in chunk], exc)
            return
        ids = {cid: key for cid, key, _ in chunk}
        self.batches_created += 1
        self._owned.add(batch.id)
        if self.store is not None:
            self.store.add(batch.id, ids)
        self._pollers[batch.id] = asyncio.ensure_future(self._poll(batch.id, ids))

    # -- the batch side ----------------------------------------------------------------------------
    async def _poll(self, batch_id: str, ids: Mapping[str, str]) -> None:
        client = self.provider.client()
        delay = self.poll_min
        try:
            while True:
                await asyncio.sleep(delay)
                self.polls += 1
                try:
                    batch = await client.messages.batches.retrieve(batch_id)
                except Exception as exc:  # noqa: BLE001
                    if classify_sdk_error(exc) is None:
                        if getattr(exc, "status_code", None) == 404:   # gone (archived, other account)
                            self._forget(batch_id)
                        self._fail(list(ids), exc)
                        return
                    delay = min(delay * 2, self.poll_max)
                    continue
                if batch.processing_status == "ended":
                    break
                delay = min(delay * 2, self.poll_max)
            seen = set()
            async for entry in await client.messages.batches.results(batch_id):
                seen.add(entry.custom_id)
                self._resolve(entry.custom_id, ids.get(entry.custom_id), entry.result)
            self._forget(batch_id)
            self._fail([c for c in ids if c not in seen], BatchEntryError("expired", "missing from the results"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken results stream: the record stays for a rerun
            self._fail(list(ids), exc)
        finally:
            self._pollers.pop(batch_id, None)

    def _forget(self, batch_id: str) -> None:
        self._owned.discard(batch_id)
        for cid in [c for c, b in self._recorded.items() if b == batch_id]:
            del self._recorded[cid]
        if self.store is not None:
            self.store.remove(batch_id)

    def _resolve(self, cid: str, key: str | None, result: Any) -> None:
        from fuzzer.agents.anthropic_agent import reply_from_message

        kind = getattr(result, "type", None)
        future = self._waiting.pop(cid, None)
        if kind == "succeeded":
            reply = reply_from_message(result.message)
            if self.cache is not None and key is not None:
                self.cache.put(key, reply.to_json())
            if future is not None and not future.done():
                future.set_result(reply)
            return
        if kind == "errored":
            err = getattr(getattr(result, "error", None), "error", None)
            exc = BatchEntryError(str(getattr(err, "type", None) or "api_error"), str(getattr(err, "message", "") or ""))
        else:
            exc = BatchEntryError(str(kind or "expired"), "not processed")
        if future is not None and not future.done():
            future.set_exception(exc)

    def _fail(self, cids: list[str], exc: BaseException) -> None:
        for cid in cids:
            future = self._waiting.pop(cid, None)
            if future is not None and not future.done():
                future.set_exception(exc)

    # -- shutdown ------------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Cancel this process's unread batches on the API (their records stay) and stop polling."""
        self._closed = True
        if self._flush is not None:
            self._flush.cancel()
        if self._creating:    # a create already sent: learn its batch id, so it is recorded and cancelled
            await asyncio.wait(set(self._creating), timeout=10)
        owned, self._owned = sorted(self._owned | set(self._pollers)), set()
        for task in list(self._pollers.values()):
            task.cancel()
        if owned:
            client = self.provider.client()
            for batch_id in owned:
                try:
                    await asyncio.wait_for(client.messages.batches.cancel(batch_id), timeout=10)
                except Exception:  # noqa: BLE001 - best effort: the record lets a rerun harvest it
                    pass
        for future in self._waiting.values():
            if not future.done():
                future.cancel()
        self._waiting.clear()
        self._queue.clear()

    def __repr__(self) -> str:
        return f"BatchSender(created={self.batches_created}, polls={self.polls}, pending={len(self._waiting)})"

