"""A real ``redis-server`` (the Debian package) on a free loopback port, for tests and benchmarks.

Why not a fake: the shared campaign relies on Redis semantics (INCR, SET NX EX, pipelines,
Lua compare-and-delete, Hypothesis' own RedisExampleDatabase); only the real server checks them.

    with redis_server() as srv:     # srv.url == "redis://127.0.0.1:PORT/0"
        ...
        srv.kill()                  # Redis going away mid-run

No persistence (``--save ''``, no AOF), a private working directory, killed on exit.
``missing_reason()`` says why the server cannot run here (None when it can).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

INSTALL_HINT = "apt-get install -y redis-server (.ci/run installs it)"


def missing_reason() -> str | None:
    if shutil.which("redis-server") is None:
        return f"redis-server is not installed: {INSTALL_HINT}"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis client is not installed: pip install -e '.[test]'"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc, self.port = proc, port
        self.url = f"redis://127.0.0.1:{port}/0"

    def client(self) -> "object":
        import redis

        return redis.Redis.from_url(self.url)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@contextmanager
def redis_server(*, start_timeout: float = 10.0) -> Iterator[RedisServer]:
    reason = missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    with tempfile.TemporaryDirectory(prefix="sf-redis-") as tmp:
        for _attempt in range(3):  # a port taken between probing and binding: try another
            port = _free_port()
            proc = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", tmp, "--protected-mode", "yes", "--loglevel", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
            server = RedisServer(proc, port)
            deadline = time.monotonic() + start_timeout
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                        s.sendall(b"PING\r\n")
                        if s.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    time.sleep(0.02)
            else:
                server.kill()
                continue
            try:
                yield server
            finally:
                server.kill()
            return
        raise RuntimeError(f"redis-server did not start on a free loopback port ({os.getpid()})")
