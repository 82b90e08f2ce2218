"""Shared campaigns: ``--shared redis://HOST:PORT/DB`` makes a run one worker of a campaign.

Why Redis: several machines (or processes) on one search must split the budget, never pay twice
for one model call, and save each finding once; Redis gives atomic counters, ``SET NX`` claims
and a store every worker reaches, and Hypothesis ships an example database for it
(``hypothesis.extra.redis.RedisExampleDatabase``).

What lives where (``sf:`` prefix; ``C`` is the campaign id, a hash of what defines the search:
model spec, seed, samples, budget, threshold, harms and the strategy, so workers started with
the same flags join the same campaign and anything else starts its own)::

    sf:cache:<cache_key>         a model response (JSON), shared by every campaign on this DB
    sf:inflight:<cache_key>      "a worker is paying for this call now" (SET NX, expires)
    sf:c:C:next                  the next scenario index (INCR): disjoint indices of one seed
    sf:c:C:claim:<signature>     the worker shrinking that signature (SET NX, expires)
    sf:c:C:found                 signature -> saved scenario id (HSETNX: written once)
    sf:c:C:offered, :at:<sig>    signatures found failing, in order, and their scenario indices
    sf:c:C:calls                 model calls paid by every worker (INCRBY): ``--max-calls``
    sf:c:C:started               when the campaign's first worker started (Redis' clock, SET NX):
                                 ``--time-limit`` counts from there
    sf:c:C:busy, :idle           workers exploring or shrinking / with nothing left (sorted sets,
                                 scored by when the mark expires: a dead worker's lapses)
    sf:c:C:help                  samples a busy worker offers to idle ones (newest first)
    sf:c:C:hyp:...               Hypothesis' RedisExampleDatabase: failing choice sequences

The response cache writes through to the local SQLite cache (``--cache``), so every answer a
worker received is also on its own disk. If Redis goes away mid-run the cache falls back to the
local one (the calls in flight finish and are kept) and the next campaign operation raises
``SharedLost``: one line, exit 2, the corpus as saved so far, and a rerun with the same flags
replays every paid call from the local cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import queue
import socket
import threading
import time
import uuid
from typing import Any, Mapping
from urllib.parse import urlsplit

import redis
from hypothesis.extra.redis import RedisExampleDatabase

from fuzzer.agents.cache import canonical_json
from fuzzer.errors import FuzzerError, SpecError

#: A claimed call or signature whose worker died is free again after this long (seconds).
INFLIGHT_TTL = 300
CLAIM_TTL = 3600
#: Longest wait for another worker's answer before paying for the call ourselves (seconds).
WAIT_MAX = 600.0
#: A worker's busy mark lapses this long after its last sign of work; an idle mark sooner; an
#: offer older than HELP_STALE is done or dropped by now (seconds).
BUSY_TTL = 30.0
IDLE_TTL = 3.0
HELP_STALE = 10.0

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class SharedLost(FuzzerError):
    """Redis went away (or never answered): the run stops; local state and the corpus are kept."""


def redact(url: str) -> str:
    """The URL without a password, for messages (credentials never reach logs)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    user, _, hostport = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0] if ":" in user else ""
    return parts._replace(netloc=f"{name}:***@{hostport}").geturl()


def parse_url(url: str) -> str:
    """Check ``redis://HOST:PORT/DB`` (or ``rediss://``); raises ``SpecError`` naming the flag."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise SpecError(f"--shared {redact(url)!r}: {exc}") from None
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise SpecError(f"--shared {redact(url)!r}: expected redis://HOST:PORT/DB")
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise SpecError(f"--shared {redact(url)!r}: the database must be a number, got {db!r}")
    return url


class Link:
    """One Redis client shared by the cache and the campaign, and whether it was lost.

    Once lost it stays lost for this run: a flapping server must not split one run's answers
    between two stores, and every later call would otherwise wait for a timeout again.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = parse_url(url)
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=min(timeout, 3.0), socket_timeout=timeout,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2), health_check_interval=0,
        )
        self.lost: str | None = None
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._lock = threading.Lock()

    def ping(self) -> None:
        try:
            self.client.ping()
        except (redis.RedisError, OSError) as exc:
            raise SharedLost(f"--shared {redact(self.url)}: cannot reach Redis ({_why(exc)})") from None

    def mark_lost(self, exc: BaseException) -> None:
        with self._lock:
            if self.lost is None:
                self.lost = _why(exc)

    def error(self, exc: BaseException | None = None) -> SharedLost:
        if exc is not None:
            self.mark_lost(exc)
        return SharedLost(
            f"shared campaign {redact(self.url)}: Redis lost ({self.lost}); stopped. The corpus holds every "
            "finding saved so far and the local cache every answer received: rerun with the same flags to resume")

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


# -- the response cache -------------------------------------------------------------------------------
class RedisResponseCache:
    """``ResponseCache``'s get/put over Redis, written through to a local cache, plus a claim.

    ``claim(key)`` (async) is the lookup the agent makes (``fuzzer.agents.loop``): the local
    cache, then Redis, and on a miss a claim on the call, so two workers never pay for one;
    ``None`` means "this worker pays" (``put`` or ``release`` ends the claim), anything else is
    the answer, possibly one another worker was paying for and that this one waited for. Redis
    round trips run in a worker thread and ``put`` writes to Redis from a background writer, so a
    slow Redis never stalls the event loop other samples run on. ``get``/``put`` keep the plain
    ``ResponseCache`` interface for every other caller. Keys are ``fuzzer.agents.cache.cache_key``.
    """

    def __init__(self, link: Link, local: Any = None, *, inflight_ttl: int = INFLIGHT_TTL,
                 wait_max: float = WAIT_MAX) -> None:
        self.link, self.local = link, local
        self.inflight_ttl, self.wait_max = inflight_ttl, wait_max
        self.hits = 0
        self.misses = 0
        self.waited = 0          # answers another worker paid for, received through a claim
        self._owned: set[str] = set()
        self._lock = threading.Lock()
        self._writes: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._writer: threading.Thread | None = None

    @property
    def path(self) -> str:
        return redact(self.link.url)

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _redis_get(self, key: str) -> Any | None:
        if self.link.lost is not None:
            return None
        try:
            raw = self.link.client.get("sf:cache:" + key)
        except (redis.RedisError, OSError) as exc:
            self.link.mark_lost(exc)
            return None
        return None if raw is None else json.loads(raw)

    def get(self, key: str) -> Any | None:
        """Local first (free), then Redis (copied to local); ``None`` counts as a miss."""
        value = self.local.get(key) if self.local is not None else None
        if value is None:
            value = self._redis_get(key)
            if value is not None and self.local is not None:
                self.local.put(key, value)
        self._count(value is not None)
        return value

    def put(self, key: str, value: Any) -> None:
        """On local disk now (a Redis failure loses nothing paid for), in Redis from the writer."""
        if self.local is not None:
            self.local.put(key, value)
        if self.link.lost is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_loop, name="sf-redis-writer", daemon=True)
                    self._writer.start()
            self._writes.put((key, canonical_json(value)))
        else:
            with self._lock:
                self._owned.discard(key)

    def _write_loop(self) -> None:
        while (item := self._writes.get()) is not None:
            key, blob = item
            with self._lock:
                owned = key in self._owned
                self._owned.discard(key)
            if self.link.lost is not None:
                continue
            try:
                pipe = self.link.client.pipeline(transaction=True)
                pipe.set("sf:cache:" + key, blob)
                if owned:
                    pipe.delete("sf:inflight:" + key)
                pipe.execute()
            except (redis.RedisError, OSError) as exc:
                self.link.mark_lost(exc)

    def _try_claim(self, key: str) -> tuple[bool, Any | None]:
        """One round trip: claim the call, and read the answer in case it is there already."""
        pipe = self.link.client.pipeline(transaction=False)
        pipe.get("sf:cache:" + key)
        pipe.set("sf:inflight:" + key, self.link.worker, nx=True, ex=self.inflight_ttl)
        raw, claimed = pipe.execute()
        return bool(claimed), (None if raw is None else json.loads(raw))

    async def claim(self, key: str) -> Any | None:
        """The answer for ``key`` (local, Redis, or another worker's call waited for), or ``None``:
        a miss, and this worker now holds the claim and pays."""
        value = self.local.get(key) if self.local is not None else None
        if value is not None:
            self._count(True)
            return value
        delay, deadline, first = 0.005, time.monotonic() + self.wait_max, True
        while self.link.lost is None:
            try:
                claimed, value = await asyncio.to_thread(self._try_claim, key)
            except (redis.RedisError, OSError) as exc:
                self.link.mark_lost(exc)
                break
            if value is not None:
                if claimed:
                    self.release_key(key, force=True)
                if not first:
                    with self._lock:
                        self.waited += 1
                self._count(True)
                if self.local is not None:
                    self.local.put(key, value)
                return value
            if claimed:
                with self._lock:
                    self._owned.add(key)
                break
            if time.monotonic() >= deadline:
                break  # the other worker is stuck: pay rather than wait forever
            first = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        self._count(False)
        return None

    def release(self, key: str) -> None:
        """The call this worker claimed failed: let another worker (or a retry) pay for it."""
        self.release_key(key)

    def release_key(self, key: str, *, force: bool = False) -> None:
        with self._lock:
            owned = key in self._owned
            self._owned.discard(key)
        if (owned or force) and self.link.lost is None:
            try:
                self.link.client.eval(_RELEASE, 1, "sf:inflight:" + key, self.link.worker)
            except (redis.RedisError, OSError) as exc:
                self.link.mark_lost(exc)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every ``put`` reached Redis (or Redis was lost)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._writes.put(None)
            writer.join(timeout)

    def __len__(self) -> int:
        self.flush()
        if self.link.lost is not None:
            return len(self.local) if self.local is not None else 0
        try:
            return sum(1 for _ in self.link.client.scan_iter("sf:cache:*", count=1000))
        except (redis.RedisError, OSError) as exc:
            self.link.mark_lost(exc)
            return 0

    def close(self) -> None:
        """Flush the writes and give back any claim still held (a cancelled call); the local
        cache is the caller's to close."""
        self.flush()
        for key in list(self._owned):
            self.release_key(key)

    def __repr__(self) -> str:
        return f"RedisResponseCache({self.path!r}, hits={self.hits}, misses={self.misses}, waited={self.waited})"


# -- the example database -----------------------------------------------------------------------------
class _GuardedRedisDatabase(RedisExampleDatabase):
    """Hypothesis' own Redis database; a dead server becomes ``SharedLost``, not a traceback."""

    def __init__(self, link: Link, prefix: bytes) -> None:
        super().__init__(link.client, key_prefix=prefix, listener_channel=prefix.decode() + "changes")
        self._link = link

    def _guard(self, fn: Any, *args: Any) -> Any:
        if self._link.lost is not None:
            raise self._link.error()
        try:
            return fn(*args)
        except (redis.RedisError, OSError) as exc:
            raise self._link.error(exc) from None

    def fetch(self, key: bytes) -> Any:
        return iter(self._guard(lambda: list(RedisExampleDatabase.fetch(self, key))))

    def save(self, key: bytes, value: bytes) -> None:
        self._guard(RedisExampleDatabase.save, self, key, value)

    def delete(self, key: bytes, value: bytes) -> None:
        self._guard(RedisExampleDatabase.delete, self, key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self._guard(RedisExampleDatabase.move, self, src, dest, value)


# -- the campaign ----------------------------------------------------------------------------------------
def campaign_id(settings: Mapping[str, Any]) -> str:
    """A short stable hash of what defines a search: equal flags, equal campaign."""
    return hashlib.sha256(canonical_json(dict(settings)).encode()).hexdigest()[:16]


def define_campaign(*, model: str, seed: int, samples: int, budget: int, min_rate: float | None,
                    harms: Any, strategy: Any) -> str:
    """The campaign id of a ``fuzz`` run: what changes which scenarios are drawn or what fails.
    The strategy enters by its repr (``scenarios(threat='replacement')``): same knobs, same id."""
    return campaign_id({"model": model, "seed": seed, "samples": samples, "budget": budget, "min_rate": min_rate,
                        "harms": sorted(harms) if harms else None, "strategy": repr(strategy)})


class RedisCampaign:
    """The ``fuzzer.campaign.Campaign`` of one worker, its state in Redis (see the module doc)."""

    def __init__(self, link: Link, campaign: str, budget: int) -> None:
        if budget < 0:
            raise ValueError(f"budget={budget!r} must be >= 0")
        self.link, self.id, self.budget = link, campaign, budget
        self.prefix = f"sf:c:{campaign}:"
        self.database = _GuardedRedisDatabase(link, (self.prefix + "hyp:").encode())
        self.indices: list[int] = []      # what this worker explored, for reports and tests
        self._spent = False
        self._reported = 0                # this worker's calls already added to ``:calls``
        self._lock = threading.Lock()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self.link.lost is not None:
            raise self.link.error()
        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            raise self.link.error(exc) from None

    def next_index(self) -> int | None:
        if self._spent:
            return None
        pipe = self.link.client.pipeline(transaction=False)
        pipe.incr(self.prefix + "next")
        self._mark(pipe, "busy", BUSY_TTL)
        i = int(self._call(pipe.execute)[0]) - 1
        if i >= self.budget:
            self._spent = True
            return None
        self.indices.append(i)
        return i

    def known(self) -> dict[str, str]:
        raw = self._call(self.link.client.hgetall, self.prefix + "found")
        return {k.decode(): v.decode() for k, v in raw.items()}

    def claim(self, signature: str) -> str | None:
        key = self.prefix + "claim:" + signature
        if self._call(self.link.client.set, key, self.link.worker, nx=True, ex=CLAIM_TTL):
            return None
        holder = self._call(self.link.client.get, key)
        return "another worker" if holder is None else holder.decode()

    def found(self, signature: str, scenario_id: str) -> None:
        self._call(self.link.client.hsetnx, self.prefix + "found", signature, scenario_id)

    def release(self, signature: str) -> None:
        if self.link.lost is None:
            try:
                self.link.client.eval(_RELEASE, 1, self.prefix + "claim:" + signature, self.link.worker)
            except (redis.RedisError, OSError) as exc:
                self.link.mark_lost(exc)

    def share_failure(self, signature: str, index: int, key: bytes, choices: tuple[Any, ...]) -> None:
        from hypothesis.database import choices_to_bytes

        self.database.save(key + b".secondary", choices_to_bytes(choices))
        pipe = self.link.client.pipeline(transaction=True)
        pipe.rpush(self.prefix + "offered", signature)
        pipe.sadd(self.prefix + "at:" + signature, index)
        self._call(pipe.execute)

    def offered(self) -> list[tuple[str, list[int]]]:
        """In the order found (first come, first shrunk), each signature once."""
        sigs = [s.decode() for s in self._call(self.link.client.lrange, self.prefix + "offered", 0, -1)]
        out: list[tuple[str, list[int]]] = []
        for sig in dict.fromkeys(sigs):
            indices = self._call(self.link.client.smembers, self.prefix + "at:" + sig)
            out.append((sig, sorted(int(i) for i in indices)))
        return out

    def calls(self, mine: int) -> int:
        """Add this worker's calls since the last report to the campaign's count; the total."""
        with self._lock:
            delta, self._reported = mine - self._reported, mine
            return int(self._call(self.link.client.incrby, self.prefix + "calls", delta))

    def elapsed(self) -> float:
        """Seconds since the campaign's first worker started, on Redis' clock (one clock for
        every machine); this call records the start if no worker has."""
        def since_start() -> float:
            sec, usec = self.link.client.time()
            now = sec + usec / 1e6
            pipe = self.link.client.pipeline(transaction=True)
            pipe.set(self.prefix + "started", repr(now), nx=True)
            pipe.get(self.prefix + "started")
            return max(0.0, now - float(pipe.execute()[1]))

        return float(self._call(since_start))

    # -- helping: an idle worker runs the samples a busy one cannot start yet ----------------------
    def _mark(self, pipe: Any, state: str, ttl: float) -> None:
        """Queue "this worker is ``state``" (busy or idle) on ``pipe``, lapsing after ``ttl``."""
        other = "idle" if state == "busy" else "busy"
        pipe.zadd(self.prefix + state, {self.link.worker: time.time() + ttl})
        pipe.zrem(self.prefix + other, self.link.worker)

    def offer(self, scenario: Any, samples: Any) -> bool:
        now = time.time()
        pipe = self.link.client.pipeline(transaction=False)
        self._mark(pipe, "busy", BUSY_TTL)
        pipe.zcount(self.prefix + "idle", now, "+inf")
        idle = int(self._call(pipe.execute)[-1])
        if not idle:
            return False
        item = json.dumps({"t": now, "id": scenario.id, "samples": list(samples), "scenario": scenario.to_dict()})
        pipe = self.link.client.pipeline(transaction=False)
        pipe.lpush(self.prefix + "help", item)
        pipe.ltrim(self.prefix + "help", 0, 31)
        self._call(pipe.execute)
        return True

    def wanted(self, timeout: float) -> tuple[Any, tuple[int, ...]] | None:
        from fuzzer.corpus import parse_scenario

        pipe = self.link.client.pipeline(transaction=False)
        self._mark(pipe, "idle", IDLE_TTL + timeout)
        self._call(pipe.execute)
        got = self._call(self.link.client.blpop, [self.prefix + "help"], timeout=timeout)
        if got is None:
            return None
        item = json.loads(got[1])
        if time.time() - float(item["t"]) > HELP_STALE:
            return None
        scenario = parse_scenario(item["scenario"])
        if scenario.id != item["id"]:  # a round trip that changed the scenario would ask other calls
            return None
        return scenario, tuple(int(i) for i in item["samples"])

    def others_busy(self) -> bool:
        busy = self._call(self.link.client.zrangebyscore, self.prefix + "busy", time.time(), "+inf")
        return any(w.decode() != self.link.worker for w in busy)

    def leave(self) -> None:
        if self.link.lost is None:
            try:
                pipe = self.link.client.pipeline(transaction=False)
                pipe.zrem(self.prefix + "busy", self.link.worker)
                pipe.zrem(self.prefix + "idle", self.link.worker)
                pipe.execute()
            except (redis.RedisError, OSError) as exc:
                self.link.mark_lost(exc)

    def __repr__(self) -> str:
        return f"RedisCampaign({redact(self.link.url)!r}, id={self.id!r}, budget={self.budget})"
