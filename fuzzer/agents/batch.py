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

Crash safety: before each create, the request set is recorded as an *intent* (its custom ids
and their cache keys, and the time) in a small JSON file next to the response cache
(``<cache>.batches.json``, written atomically); once the API answers, the intent becomes the
batch's record (id, custom ids, cache keys), kept until its results are read. A new run first
harvests every record — polls the batch, writes its results to the cache, drops the record — and
a request whose ``custom_id`` is in a record waits for it instead of being sent again. An intent
left behind means the process died (or the connection broke) between sending a create and
learning the batch id: the API may have accepted that batch. The run then looks for it with
``messages.batches.list`` (newest first, back to ``SKEW`` seconds before the intent's time, for
clock skew): a batch of the same size is polled until it ends and adopted when its results carry
exactly the intent's custom ids (custom ids are cache keys: no other request set has them), so the
answers already paid for are used; if none matches, the requests are sent. A create that fails
without an answer the API would give before accepting (no response, a timeout, a 5xx other than
529) is resolved the same way within the run. So a crash never pays twice. Limits: a batch of the
same size created by someone else on the account in that window is waited for before it is
ruled out; a batch the API no longer lists (deleted) is paid again. Without a response cache
(``--no-cache``) nothing is recorded: such a rerun pays again anyway.

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
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

from fuzzer.agents.retry import Transient, classify_sdk_error

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
#: Error types of an errored entry worth resubmitting (as for a direct call's HTTP error).
_TRANSIENT_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error", "server_error",
                              "expired", "canceled"})
#: Most requests per batch (the API allows 100 000 requests or 256 MB).
MAX_BATCH = 10_000
#: Seconds before an intent's time a batch it created may say it was created (clock skew).
SKEW = 600.0
#: Record ids of intents (``PendingStore``): never a batch id the API would give.
_INTENT = "intent-"


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


def maybe_accepted(exc: BaseException) -> bool:
    """Whether a failed create may still have made a batch: no answer at all (connection lost,
    timeout) or a server error. A 4xx, 429 or 529 (overloaded) is a refusal before anything is made."""
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):    # includes timeouts
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status >= 500 and status != 529


def custom_id(key: str) -> str:
    """A batch ``custom_id`` (``[a-zA-Z0-9_-]{1,64}``) for a cache key: the key itself when it fits."""
    return key if _CUSTOM_ID.match(key) else hashlib.sha256(key.encode()).hexdigest()


class PendingStore:
    """Created-but-unread batches ``{batch_id: {custom_id: cache_key}}`` and intents (creates sent
    whose batch id is not known yet) ``{intent_id: {"at": time, "ids": {custom_id: cache_key}}}``,
    in one JSON file.

    Every change rewrites the file atomically (temp file, fsync, rename), so a crash leaves the
    old or the new record, never half of one. A file that cannot be read is treated as empty
    (a corrupt record must not block a run; at worst a batch is paid again).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"batches": {}, "intents": {}}
        data = data if isinstance(data, dict) else {}
        batches = data.get("batches") if isinstance(data.get("batches"), dict) else {}
        intents = data.get("intents") if isinstance(data.get("intents"), dict) else {}
        return {"batches": {str(b): {str(c): str(k) for c, k in ids.items()} for b, ids in batches.items()
                            if isinstance(ids, dict)},
                "intents": {str(i): {"at": float(v["at"]), "ids": {str(c): str(k) for c, k in v["ids"].items()}}
                            for i, v in intents.items()
                            if isinstance(v, dict) and isinstance(v.get("at"), (int, float)) and isinstance(v.get("ids"), dict)}}

    def load(self) -> dict[str, dict[str, str]]:
        """The recorded batches."""
        return self._read()["batches"]

    def intents(self) -> dict[str, dict[str, Any]]:
        """The recorded intents."""
        return self._read()["intents"]

    def intend(self, intent_id: str, ids: Mapping[str, str], at: float) -> None:
        self._change(lambda d: d["intents"].__setitem__(intent_id, {"at": at, "ids": dict(ids)}))

    def add(self, batch_id: str, ids: Mapping[str, str], *, intent_id: str | None = None) -> None:
        """Record a created batch (in the same write, drop the intent it came from)."""
        def change(d: dict[str, dict[str, Any]]) -> None:
            d["batches"][batch_id] = dict(ids)
            if intent_id is not None:
                d["intents"].pop(intent_id, None)
        self._change(change)

    def remove(self, record_id: str) -> None:
        """Drop a batch's or an intent's record."""
        self._change(lambda d: (d["batches"].pop(record_id, None), d["intents"].pop(record_id, None)))

    def _change(self, change: Any) -> None:
        from fuzzer.corpus import write_atomic

        with self._lock:
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            change(data)
            if json.dumps(data, sort_keys=True) == before:
                return
            if data["batches"] or data["intents"]:
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
    retries fast make batching fast too. ``batches_created``, ``polls``, ``resumed`` (recorded
    batches polled again) and ``adopted`` (intents whose batch was found) count what happened.
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
        self.adopted = 0
        self._waiting: dict[str, asyncio.Future[Any]] = {}     # custom_id -> its result
        self._queue: list[tuple[str, str, dict[str, Any]]] = []  # (custom_id, cache key, request) to send
        self._flush: asyncio.Task[Any] | None = None
        self._creating: set[asyncio.Task[Any]] = set()
        self._pollers: dict[str, asyncio.Task[Any]] = {}       # batch or intent id -> its poll or search
        self._owned: set[str] = set()                          # batch ids created by this process
        self._recorded: dict[str, str] = {}                    # custom_id -> its batch or intent id
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
        """Once per sender: poll every batch a previous run recorded and did not read, and look
        for the batch of every intent it left."""
        if self._harvested:
            return
        self._harvested = True
        if self.store is None:
            return
        for batch_id, ids in self.store.load().items():
            self.resumed += 1
            self._hold(batch_id, ids, self._poll(batch_id, ids))
        for intent_id, intent in self.store.intents().items():
            self._hold(intent_id, intent["ids"], self._find(intent_id, intent["ids"], intent["at"], None))

    def _hold(self, record_id: str, ids: Mapping[str, str], work: Any) -> None:
        """Requests with these custom ids wait for ``work`` (a poll or a search) instead of being sent."""
        for cid in ids:
            self._recorded[cid] = record_id
        self._pollers[record_id] = asyncio.ensure_future(work)

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
        ids = {cid: key for cid, key, _ in chunk}
        intent_id, at = _INTENT + uuid.uuid4().hex, time.time()
        if self.store is not None:
            self.store.intend(intent_id, ids, at)     # before the create: a crash after it is found again
        try:
            batch = await self.provider.client().messages.batches.create(
                requests=requests, **({"extra_headers": headers} if headers else {}))
        except Exception as exc:  # noqa: BLE001 - each waiting request sees it and retries or fails
            if maybe_accepted(exc):      # the API may have made the batch: find it before paying again
                self._hold(intent_id, ids, self._find(intent_id, ids, at, exc))
                return
            if self.store is not None:
                self.store.remove(intent_id)
            self._fail(list(ids), exc)
            return
        self.batches_created += 1
        self._owned.add(batch.id)
        if self.store is not None:
            self.store.add(batch.id, ids, intent_id=intent_id)
        self._pollers[batch.id] = asyncio.ensure_future(self._poll(batch.id, ids))

    # -- the batch side ----------------------------------------------------------------------------
    async def _ended(self, client: Any, batch_id: str) -> None:
        """Poll until the batch has ended (``poll_min`` doubling to ``poll_max``); transient poll
        failures are retried at the next poll, others raised."""
        delay = self.poll_min
        while True:
            await asyncio.sleep(delay)
            self.polls += 1
            try:
                batch = await client.messages.batches.retrieve(batch_id)
            except Exception as exc:  # noqa: BLE001
                if classify_sdk_error(exc) is None:
                    raise
            else:
                if batch.processing_status == "ended":
                    return
            delay = min(delay * 2, self.poll_max)

    async def _poll(self, batch_id: str, ids: Mapping[str, str]) -> None:
        client = self.provider.client()
        try:
            try:
                await self._ended(client, batch_id)
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "status_code", None) == 404:   # gone (archived, other account)
                    self._forget(batch_id)
                self._fail(list(ids), exc)
                return
            self._settle(batch_id, ids, [e async for e in await client.messages.batches.results(batch_id)])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken results stream: the record stays for a rerun
            self._fail(list(ids), exc)
        finally:
            self._pollers.pop(batch_id, None)

    async def _find(self, intent_id: str, ids: Mapping[str, str], at: float, error: BaseException | None) -> None:
        """An intent's batch, if the API made one: adopted (its results used), else the requests
        are sent again (they fail with ``error``, or a transient "not created", and are retried)."""
        client = self.provider.client()
        try:
            try:
                found = await self._search(client, ids, at)
            except Exception as exc:  # noqa: BLE001 - listing refused for good: the intent stays for a rerun
                self._fail(list(ids), exc)
                return
            if found is None:
                self._forget(intent_id)
                self._fail(list(ids), error or BatchEntryError("expired", "the batch was never created"))
                return
            self.adopted += 1
            self._settle(intent_id, ids, found)
        except asyncio.CancelledError:
            raise
        finally:
            self._pollers.pop(intent_id, None)

    async def _search(self, client: Any, ids: Mapping[str, str], at: float) -> list[Any] | None:
        """The results of the batch made from exactly these custom ids (listed newest first, back
        to ``SKEW`` before ``at``), or None when there is none."""
        known = set(self._pollers) | self._owned
        candidates = []
        async for batch in client.messages.batches.list(limit=100):
            if batch.created_at.timestamp() < at - SKEW:
                break
            counts = batch.request_counts
            size = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
            if size == len(ids) and batch.id not in known:
                candidates.append(batch.id)
        for batch_id in candidates:
            try:
                await self._ended(client, batch_id)
                entries = [e async for e in await client.messages.batches.results(batch_id)]
            except Exception:  # noqa: BLE001 - not readable: not one we can use
                continue
            if {e.custom_id for e in entries} == set(ids):
                return entries
        return None

    def _settle(self, record_id: str, ids: Mapping[str, str], entries: list[Any]) -> None:
        """Resolve every waiting request from a batch's results, then drop its record."""
        seen = set()
        for entry in entries:
            seen.add(entry.custom_id)
            self._resolve(entry.custom_id, ids.get(entry.custom_id), entry.result)
        self._forget(record_id)
        self._fail([c for c in ids if c not in seen], BatchEntryError("expired", "missing from the results"))

    def _forget(self, record_id: str) -> None:
        self._owned.discard(record_id)
        for cid in [c for c, b in self._recorded.items() if b == record_id]:
            del self._recorded[cid]
        if self.store is not None:
            self.store.remove(record_id)

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
        owned = sorted(b for b in self._owned | set(self._pollers) if not b.startswith(_INTENT))
        self._owned = set()
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

