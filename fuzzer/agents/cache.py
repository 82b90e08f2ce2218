"""Response cache: one SQLite file mapping a model request to the model's response.

Why: shrinking and replay re-ask the same questions many times; a repeated run must cost zero
model requests. The key is the SHA-256 of everything that decides an answer: the provider and
model (the spec), the endpoint actually called (the base URL from ``AgentOptions.base_url`` or
``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL``, else the provider's default), the optional model
revision (``--model-revision``: a provider may move an alias to new weights), the canonical
request JSON (system, messages, tools, sampling settings — exactly what goes on the wire, minus
credentials and headers) and the sample index, so sample 3 at temperature 1 is its own entry.
The same model name behind two endpoints is two models here; API keys and headers never enter
the key. Which sample indices a run uses is decided by the caller (``fuzzer.pipeline``: selection
and evaluation use disjoint ranges), so a later regression run never reads a sample that was
picked because it failed.

Safety: WAL mode with ``synchronous=NORMAL`` survives a crash (a torn write is rolled back on the
next open); each ``put`` is one short autocommit statement and readers never block writers, so
several processes can share one file (``busy_timeout`` absorbs the rare lock wait). Only response
bodies are stored: requests are hashed, never kept, and nothing from the environment goes in.
Errors are never cached — the adapters only ``put`` successful responses — so the next run
retries them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Mapping

#: Bump when the stored response shape or the key changes: old entries then simply miss.
#: 2: the key holds the endpoint and the model revision.
CACHE_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def canonical_json(value: Any) -> str:
    """Stable JSON: sorted keys, no whitespace, so equal requests hash equally across runs."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


#: Encodings of immutable top-level request values (the system prompt, the converted tool specs)
#: by identity: they repeat on every turn and sample of a prompt, and encoding the tool schemas
#: dominated the cost of a cache hit. The value is kept alive next to its encoding, so an id is
#: never reused while it is remembered.
_MEMO: dict[int, tuple[Any, bytes]] = {}
_MEMO_MAX = 512


def _encode(value: Any) -> bytes:
    if not (isinstance(value, tuple) or (isinstance(value, str) and len(value) >= 64)):
        return canonical_json(value).encode()
    hit = _MEMO.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    text = canonical_json(value).encode()
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[id(value)] = (value, text)
    return text


@functools.lru_cache(maxsize=64)
def normalize_endpoint(url: str | None) -> str:
    """``"HTTP://Host:8000/v1/"`` → ``"http://host:8000/v1"``: one endpoint, one spelling.

    Credentials written into a URL (``https://user:secret@host``) are dropped: they pick an
    account, not a model, and must never be hashed next to data that could be compared."""
    if not url:
        return ""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, ""))
    except ValueError:  # an unparsable URL still names one endpoint
        return url.strip().rstrip("/")


def cache_key(spec: str, request: Mapping[str, Any], sample: int, *, endpoint: str | None = None,
              revision: str | None = None) -> str:
    """SHA-256 over the spec, endpoint, model revision, sample index and each request field in key order."""
    head = {"v": CACHE_VERSION, "spec": spec, "sample": sample, "endpoint": normalize_endpoint(endpoint),
            "revision": revision or ""}
    h = hashlib.sha256(canonical_json(head).encode())
    for name in sorted(request):
        h.update(b"\x00" + name.encode() + b"\x00")
        h.update(_encode(request[name]))
    return h.hexdigest()


class ResponseCache:
    """A process- and crash-safe key → JSON store. Thread-safe; ``hits``/``misses`` count ``get``s.

    ``read=False`` is the *fresh* mode a regression run uses (the pytest plugin by default): every
    ``get`` misses, so each request really goes to the model, and the answers are still stored
    for a later run that opts in to reading them.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 30_000, read: bool = True) -> None:
        self.path = str(path)
        self.read = read
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> "ResponseCache":
        return cls(path)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError(f"response cache {self.path} is closed")
        return self._db

    def get(self, key: str) -> Any | None:
        """The stored JSON value, or ``None`` (counted as a miss; always so when ``read`` is off)."""
        if not self.read:
            with self._lock:
                self.misses += 1
            return None
        with self._lock:
            row = self._conn().execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        blob = canonical_json(value)
        with self._lock:
            self._conn().execute(
                "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)", (key, blob, time.time())
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResponseCache({self.path!r}, hits={self.hits}, misses={self.misses})"
