"""What ``scenario-fuzz models`` shows: each known local model, whether its packages are installed,
its file and size, and (``--measure``) its speed on this machine right now.

Why measured and not quoted: tokens/s on a CPU depend on the cores, the load and the thread count
by an order of magnitude, so a figure from elsewhere misleads; one short completion (a fixed
~200-token prompt, 32 generated tokens) costs seconds and says what a fuzz run here will see.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from fuzzer.agents import models
from fuzzer.errors import SpecError

PROBE_PROMPT = ("You are an assistant at a small company. Summarise the following mail in one sentence.\n\n"
                + "From: facilities@example.com\nSubject: parking\n"
                + "The north car park closes for resurfacing next week; please use the south entrance. " * 6)


def catalogue(*, measure: bool = False, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per model in ``models.MODELS`` (or ``names``; an unknown name is a SpecError); with
    ``measure``, installed models are loaded (a split model is assembled first) and timed one at a time."""
    unknown = [n for n in names or () if n not in models.MODELS]
    if unknown:
        raise SpecError(f"unknown model {unknown[0]!r} (known: {', '.join(models.MODELS)})")
    rows = []
    for m in (models.MODELS[n] for n in names) if names else models.MODELS.values():
        path = models.locate(m)
        row: dict[str, Any] = {
            "name": m.name, "title": m.title, "installed": models.installed(m),
            "assembled": path is not None if m.split else None,
            "path": str(path) if path else None,
            "size_bytes": path.stat().st_size if path else (m.size or None),
            "sha256": m.sha256, "install": m.install_command(), "install_hint": m.install_hint(), "note": m.note,
        }
        if measure and row["installed"]:
            row.update(measure_speed(str(models.ensure(m))))
            row["path"] = str(models.locate(m))
        rows.append(row)
    return rows


def measure_speed(path: str, *, max_tokens: int = 32) -> dict[str, Any]:
    """Load the model, run one completion, free it: load seconds, prompt and generated tokens/s."""
    from fuzzer.agents import local

    threads = local.choose_threads()
    started = time.perf_counter()
    # kv=batch: the speed a cold prompt gets when evaluated in batches; kv=exact evaluates one token
    # per micro-batch, so its cold prompts run at about the generated rate.
    server = local.load_server(local.LocalSettings(path, n_ctx=2048, kv="batch"), threads)
    load_s = time.perf_counter() - started
    try:
        out = server.handle_chat_completions({
            "messages": [{"role": "user", "content": PROBE_PROMPT}], "max_tokens": max_tokens,
            "temperature": 0.0, "seed": 1, "cache_prompt": False})
    finally:
        del server
    t = out.get("timings") or {}
    return {"threads": threads, "load_seconds": round(load_s, 2),
            "prompt_tokens_per_s": round(float(t.get("prompt_per_second") or 0), 1),
            "generated_tokens_per_s": round(float(t.get("predicted_per_second") or 0), 1)}
