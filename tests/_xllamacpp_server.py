"""Serve a GGUF over llama.cpp's own OpenAI-compatible HTTP server (xllamacpp) on 127.0.0.1.

Run as ``python tests/_xllamacpp_server.py MODEL.gguf`` by tests/test_openai_llamacpp.py: prints
``ADDR http://127.0.0.1:PORT`` once the model is loaded, then serves until its stdin closes (the test
closes it, or exits) or ``MAX_SECONDS`` pass: it can never outlive the test run for long.
"""

from __future__ import annotations

import sys
import threading
import time

MAX_SECONDS = 900


def main() -> int:
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = sys.argv[1]
    params.n_ctx = 4096
    params.n_parallel = 1
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    params.warmup = False
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    server = xlc.Server(params)
    print("ADDR", server.listening_address, flush=True)
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    closed.wait(MAX_SECONDS)
    del server
    time.sleep(0.1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
