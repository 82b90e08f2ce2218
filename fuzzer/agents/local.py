"""``local:NAME`` / ``local:PATH.gguf`` — an open-weight model in-process through llama.cpp.

Why in-process: a user with no API key and no server can still fuzz a real model, and CI can run
the whole path (render → model → tool loop → oracles → shrink) against real model output. The
binding is ``xllamacpp`` (the optional ``local`` extra): a prebuilt wheel of llama.cpp's own
server engine, installed in seconds, where llama-cpp-python ships only a source distribution that
compiles for minutes. Models come from installed packages and are never downloaded
(``fuzzer.agents.models``): ``local:qwen-0.5b`` (Qwen2.5-Coder-0.5B-Instruct, the default real
offline model: it writes tool calls), ``local:qwen-1.5b``, ``local:smollm2`` (135M, rarely calls a
tool), or any ``local:PATH.gguf``.

The spec may carry settings after ``?``: ``local:qwen-0.5b?n_ctx=8192&threads=1&tools=native&kv=batch``.
``tools=auto`` (the default) and ``tools=text`` spell the tools' arguments out in the system prompt
and let the shared loop parse ``<tool_use:NAME>{json}`` blocks; ``tools=native`` sends the JSON
schemas through the model's own chat template (llama.cpp's Jinja engine) and maps the tool calls
the server parses back (small models often write the call without the template's tags, so text is
the default). ``AgentOptions.timeout`` does not apply: a local call cannot be cut short.

Determinism and the KV cache: samples of one scenario share the system prompt and inbox, and each
turn extends the previous one, so llama.cpp keeps the evaluated prefix (``cache_prompt``) and
evaluates only what is new. On the CPU a prompt evaluated in one batch and the same prompt resumed
from the cache do not round alike (batched and single-row kernels differ), and at temperature 1
that changes tokens. ``kv=exact`` (the default) evaluates prompts one token per micro-batch, which
makes every position's numbers independent of what was cached, so sample k replays the same tokens
in any order, under any concurrency, with or without reuse (tests/test_agents_local.py checks
this); the price is a slower cold prompt, repaid by reusing it across samples and turns.
``kv=batch`` evaluates cold prompts in large batches (faster on a fresh scenario) and keeps reuse:
tokens may then depend on what ran before. ``benchmarks/local_model.py`` measures both.

Threads: chosen once, when the model loads, from the cores other processes leave free
(``_CpuWatch``): a second llama thread on a core another process holds is descheduled mid-graph
while its partner spins, 10-25x slower here; ``?threads=N`` fixes it. One model per process: every
agent with the same settings shares one server, and a worker thread feeds it one request at a time,
picking the queued request sharing the longest prefix with the last one so the KV cache is reused.
The embedded server also listens on a loopback port (llama.cpp always starts its HTTP endpoint); we
never use it in-process.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import hashlib
import importlib.util
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import parse_qsl

from fuzzer.agents import models
from fuzzer.agents.base import AgentOptions
from fuzzer.agents.loop import Reply, ToolCall, ToolLoopAgent, Turn
from fuzzer.agents.openai_agent import chat_usage
from fuzzer.agents.retry import Transient
from fuzzer.agents.textcalls import format_results
from fuzzer.errors import AgentError, SpecError

BINDING = "xllamacpp"
EXTRA_HINT = "pip install 'scenario-fuzzer[local]'"
DEFAULT_MODEL = "qwen-0.5b"
DEFAULT_N_CTX = 4096
DEFAULT_THREADS = 2
KV_MODES = ("exact", "batch")
_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens"}
_SAMPLE: contextvars.ContextVar[int] = contextvars.ContextVar("local_sample", default=0)


#: Sampling settings sent with every request (llama.cpp's classic defaults; the repeat penalty
#: keeps a small model out of its loops). Part of the request, hence of the cache key.
SAMPLING = {"top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}


@dataclass(frozen=True)
class LocalSettings:
    """What identifies a loaded model: agents with the same settings share one server.
    ``n_threads`` None: chosen from free cores at load time."""

    path: str
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int | None = None
    kv: str = "exact"


# -- the process-wide model and its worker -------------------------------------------------------------
_MODELS: dict[LocalSettings, "Loaded"] = {}
_LOAD_LOCK = threading.Lock()
_COUNTS: dict[str, float] = {"calls": 0, "loads": 0, "seconds": 0.0, "load_seconds": 0.0, "prompt_tokens": 0,
                             "completion_tokens": 0, "reused_tokens": 0, "prompt_ms": 0.0, "predicted_ms": 0.0}
#: A queued request passed over this many times runs next, whatever its prefix: no starvation.
MAX_SKIPS = 16


def llama_calls() -> int:
    """Completions actually run by llama.cpp in this process (cache hits never reach it)."""
    return int(_COUNTS["calls"])


def llama_stats() -> dict[str, float]:
    """Process-wide counters: calls, model loads and their seconds, seconds inside llama calls,
    prompt tokens (evaluated + taken from the KV cache), completion tokens, prompt tokens reused from
    the KV cache, and llama.cpp's own prompt / generation milliseconds (its ``timings``).
    ``benchmarks/local_model.py`` reads them to split wall time between the model and the rest."""
    return dict(_COUNTS)


@dataclass
class Loaded:
    """A loaded model: llama.cpp's server engine and the threads it was given."""

    server: Any
    threads: int


def choose_threads(most: int = DEFAULT_THREADS) -> int:
    """Up to ``most`` threads, fewer while other processes hold cores (measured over 0.3 s)."""
    watch = _CpuWatch()
    time.sleep(0.3)
    return watch.threads(min(most, watch.cores))


def load_server(settings: LocalSettings, threads: int) -> Any:
    """A new llama.cpp server engine for these settings (callers keep one per process)."""
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = settings.path
    params.n_ctx = settings.n_ctx
    params.n_parallel = 1                     # one slot: its KV cache is the reused prefix
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    if settings.kv == "exact":
        params.n_ubatch = 1                   # batch-invariant numbers (module docstring)
    params.cache_ram_mib = 512                # earlier prefixes kept in RAM for later requests
    params.warmup = False
    params.verbosity = -1
    params.n_threads_http = 1
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    try:
        return xlc.Server(params)
    except Exception as exc:  # llama.cpp says little more than "failed to load"
        raise AgentError(f"cannot load {settings.path}: {exc}") from exc


def model_for(settings: LocalSettings) -> Loaded:
    """The process's server for these settings, loaded on first use."""
    with _LOAD_LOCK:
        loaded = _MODELS.get(settings)
        if loaded is None:
            threads = settings.n_threads or choose_threads()
            started = time.perf_counter()
            server = load_server(settings, threads)
            _COUNTS["load_seconds"] += time.perf_counter() - started
            loaded = _MODELS[settings] = Loaded(server, threads)
            _COUNTS["loads"] += 1
        return loaded


@dataclass
class _Job:
    settings: LocalSettings
    request: Mapping[str, Any]
    future: "concurrent.futures.Future[dict[str, Any]]"
    skipped: int = 0


class _Worker:
    """The one thread that runs llama calls, choosing the order to reuse llama.cpp's KV cache.

    llama.cpp re-evaluates only the part of a prompt that differs from what it evaluated last, and
    a small model on two cores spends most of a request reading the inbox. Samples of one scenario
    share the system prompt and inbox, so among queued requests the worker takes the one sharing
    the most leading messages with the last one run (oldest first on ties). With ``kv=exact`` order
    never changes the tokens (the seed is per request), only the time.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []
        self._last: tuple[LocalSettings | None, list[Any]] = (None, [])
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, settings: LocalSettings, request: Mapping[str, Any]) -> "concurrent.futures.Future[dict[str, Any]]":
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._cond:
            if self._closed:
                raise AgentError("the local model worker has shut down (interpreter exit)")
            self._jobs.append(_Job(settings, request, future))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="llama-cpp", daemon=True)
                self._thread.start()
            self._cond.notify()
        return future

    def _pick(self) -> _Job:
        last_settings, last_messages = self._last
        best, best_score = 0, -1
        for i, job in enumerate(self._jobs):
            if job.skipped >= MAX_SKIPS:
                best = i
                break
            score = _shared_prefix(job.request["messages"], last_messages) if job.settings == last_settings else 0
            if score > best_score:
                best, best_score = i, score
        for older in self._jobs[:best]:
            older.skipped += 1
        job = self._jobs.pop(best)
        self._last = (job.settings, list(job.request["messages"]))
        return job

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._pick()
            if not job.future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting
            try:
                result = _complete(job.settings, job.request)
            except BaseException as exc:  # noqa: BLE001 - delivered to the awaiting request
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)

    def close(self, timeout: float = 30.0) -> None:
        """At exit: drop queued requests and let the running one finish before the model is freed."""
        with self._cond:
            self._closed = True
            for job in self._jobs:
                job.future.cancel()
            self._jobs.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)


def _shared_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


_WORKER = _Worker()


@atexit.register
def _shutdown() -> None:
    """Stop the worker before the interpreter tears down the binding under a running call."""
    _WORKER.close()
    with _LOAD_LOCK:
        _MODELS.clear()


class _CpuWatch:
    """How many cores other processes kept busy since the last look (Linux ``/proc/stat``).

    Why: llama.cpp's threads meet at a spinning barrier after every op. When another process holds
    one of two cores, a second llama thread is descheduled mid-graph and its partner spins: measured
    here, 2 threads were 3x-7x slower than 1 on a saturated 2-core machine, and ~2x faster on an
    idle one. The thread count never changes the tokens, only the speed, so it can follow the load.
    """

    def __init__(self) -> None:
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._last = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as fh:
                f = [int(x) for x in fh.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        busy = (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait; steal counts
        t = os.times()
        return time.monotonic(), busy, t.user + t.system

    def others(self) -> float | None:
        now, prev = self._sample(), self._last
        self._last = now
        if now is None or prev is None or now[0] - prev[0] < 0.05:
            return None
        return max(0.0, (now[1] - prev[1]) - (now[2] - prev[2])) / (now[0] - prev[0])

    def threads(self, most: int) -> int:
        """``most`` unless other processes took cores; never below 1."""
        others = self.others()
        if others is None:
            return most
        return max(1, min(most, round(self.cores - others)))


_CPU = _CpuWatch()


def _complete(settings: LocalSettings, request: Mapping[str, Any]) -> dict[str, Any]:
    """One blocking chat completion; runs on the worker thread only."""
    loaded = model_for(settings)
    body: dict[str, Any] = {
        "messages": request["messages"],
        "temperature": request["temperature"],
        "max_tokens": request["max_tokens"],
        "seed": request["seed"],
        "stop": list(request.get("stop") or ()),
        "cache_prompt": True,
        **request["sampling"],
    }
    if request.get("tools"):
        body.update(tools=request["tools"], tool_choice="auto")
    _COUNTS["calls"] += 1
    started = time.perf_counter()
    try:
        completion = loaded.server.handle_chat_completions(body)
    finally:
        _COUNTS["seconds"] += time.perf_counter() - started
    if not isinstance(completion, dict):
        raise AgentError(f"{BINDING} returned {type(completion).__name__}, not a completion")
    if completion.get("error"):
        err = completion["error"]
        message = err.get("message") if isinstance(err, dict) else str(err)
        if "context" in str(message).lower():
            raise AgentError(f"{message}: the conversation does not fit; raise n_ctx (e.g. ?n_ctx=8192)")
        raise AgentError(f"llama.cpp: {message}")
    usage = completion.get("usage") or {}
    timings = completion.get("timings") or {}
    _COUNTS["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
    _COUNTS["completion_tokens"] += int(usage.get("completion_tokens") or 0)
    _COUNTS["reused_tokens"] += int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    _COUNTS["prompt_ms"] += float(timings.get("prompt_ms") or 0.0)
    _COUNTS["predicted_ms"] += float(timings.get("predicted_ms") or 0.0)
    return completion


# -- the provider --------------------------------------------------------------------------------------------
class LocalProvider:
    """A ``loop.Provider`` over llama.cpp's chat completions, in-process."""

    def __init__(self, spec: str, settings: LocalSettings, options: AgentOptions, *, tools: str = "auto") -> None:
        self.spec = spec
        self.settings = settings
        self.options = options
        #: Native tool calls through the model's chat template, or ``<tool_use:...>`` text blocks.
        self.native = tools == "native"
        st = os.stat(settings.path)
        #: Identifies the weights in cache keys without hashing gigabytes: name and size.
        self.fingerprint = f"{Path(settings.path).name}:{st.st_size}"

    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        from fuzzer.agents.openai_agent import function_spec, wire_messages

        if tools and not self.native:
            system = f"{system}\n\n{text_tool_guide(tools)}" if system else text_tool_guide(tools)
        messages = wire_messages(system, turns)
        req: dict[str, Any] = {
            "model": self.fingerprint,
            "kv": self.settings.kv,
            "messages": native_messages(messages) if self.native else local_messages(messages),
            "temperature": 0.0 if self.options.temperature is None else float(self.options.temperature),
            "max_tokens": self.options.max_tokens,
            "seed": sample_seed(_SAMPLE.get()),
            "sampling": dict(SAMPLING),
        }
        if tools and self.native:
            req["tools"] = [function_spec(t) for t in tools]
        elif tools:
            # A small model goes on to invent the tool's answer; stop it there and run the real tool.
            req["stop"] = ["<tool_result:"]
        return req

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
        completion = await asyncio.wrap_future(_WORKER.submit(self.settings, request))
        return reply_from_completion(completion)

    def classify(self, exc: BaseException) -> Transient | None:
        return None  # in-process: nothing a retry would fix

    async def aclose(self) -> None:
        return None  # the model stays loaded for the next agent in this process


class LocalAgent(ToolLoopAgent):
    """The shared tool loop, plus the sample index made visible to ``build_request`` for the seed."""

    async def request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]], *,
                      sample: int = 0) -> Reply:
        token = _SAMPLE.set(sample)
        try:
            return await super().request(system, turns, tools, sample=sample)
        finally:
            _SAMPLE.reset(token)


def local_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-shaped messages for a text-calling model.

    Templates concatenate ``content``, so it is never None; tool results go back as one user
    message of ``<tool_result:NAME>`` blocks (the format the tool guide taught the model; a text
    caller has no tool-call ids for ``role: tool`` messages to answer).
    """
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    pending: list[tuple[str, str]] = []
    for msg in messages:
        if msg["role"] == "tool":
            pending.append((names.get(msg["tool_call_id"], "tool"), msg["content"]))
            continue
        if pending:
            out.append({"role": "user", "content": format_results(pending)})
            pending = []
        msg = dict(msg)
        if msg.get("content") is None:
            msg["content"] = ""
        for call in msg.get("tool_calls") or ():
            names[call["id"]] = call["function"]["name"]
        out.append(msg)
    if pending:
        out.append({"role": "user", "content": format_results(pending)})
    # wire_messages may put a text-calls results message right after the tool results: merge them.
    merged: list[dict[str, Any]] = []
    for msg in out:
        if merged and msg["role"] == "user" == merged[-1]["role"] and not msg.get("tool_calls"):
            merged[-1] = {**merged[-1], "content": merged[-1]["content"] + "\n\n" + msg["content"]}
        else:
            merged.append(msg)
    return merged


def native_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-shaped messages for the model's own template: ``role: tool`` kept, content never None."""
    return [{**m, "content": m.get("content") or ""} for m in messages]


def sample_seed(sample: int) -> int:
    """A stable 31-bit seed per sample index: sample k replays the same tokens on every run."""
    digest = hashlib.sha256(f"scenario-fuzzer/local/{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def text_tool_guide(tools: Sequence[Mapping[str, Any]]) -> str:
    """How to call the tools in text, with their arguments in words: a text-calling model never
    sees the JSON schemas. The worked example matters: without it the 0.5B model writes the JSON
    arguments alone, with no tag naming the tool, and nothing runs."""
    first = tools[0]["name"] if tools else "send_email"
    lines = ["To call a tool, write its opening tag, its arguments as one JSON object, and its closing tag, "
             f"for example <tool_use:{first}>{{...}}</tool_use:{first}>. A JSON object without the tags does nothing.",
             "Tool arguments (write them as JSON inside the block):"]
    for t in tools:
        props = (t.get("input_schema") or {}).get("properties") or {}
        required = set((t.get("input_schema") or {}).get("required") or ())
        args = ", ".join(f'"{k}": {_type_word(v)}' for k, v in props.items() if k in required)
        optional = ", ".join(f'"{k}": {_type_word(v)}' for k, v in props.items() if k not in required)
        lines.append(f"<tool_use:{t['name']}>{{{args}}}</tool_use:{t['name']}>" + (f" (may add {optional})" if optional else ""))
    return "\n".join(lines)


def _type_word(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "array":
        return "[" + _type_word(schema.get("items") or {}) + ", ...]"
    return {"string": "string", "integer": "integer", "number": "number", "boolean": "true|false"}.get(str(kind), "value")


def reply_from_completion(completion: Mapping[str, Any]) -> Reply:
    choices = completion.get("choices") or []
    # llama.cpp reports the prompt tokens it resumed from its KV cache as ``cached_tokens``, as the
    # OpenAI API reports its prompt cache: they become ``cache_read_input_tokens`` the same way.
    usage = chat_usage(completion.get("usage") or {})
    if not choices:
        return Reply(usage=usage)
    choice = choices[0]
    msg = choice.get("message") or {}
    calls = []
    for i, tc in enumerate(msg.get("tool_calls") or ()):
        fn = tc.get("function") or {}
        if fn.get("name"):
            # The server's ids are random: a stable one keeps the next request's cache key stable.
            calls.append(ToolCall(f"call-{i}-{fn['name']}", fn["name"], _args(fn.get("arguments")), True))
    stop = _STOP.get(str(choice.get("finish_reason")), "end_turn")
    return Reply(text=msg.get("content") or "", tool_calls=tuple(calls), stop_reason=stop, usage=usage)


def _args(raw: Any) -> Any:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # unreadable: the tool environment records the attempt with an error


# -- spec → agent -----------------------------------------------------------------------------------------------
def resolve_model(name: str) -> str:
    """A model name (``fuzzer.agents.models.MODELS``) or a ``.gguf`` path → the GGUF file's path,
    assembling a split model on first use; raises SpecError naming the missing package or file."""
    known = models.MODELS.get(name.lower())
    if known is not None:
        return str(models.ensure(known))
    path = Path(os.path.expanduser(name))
    if path.suffix.lower() != ".gguf" and not path.is_file():
        raise SpecError(f"local:{name} is neither a .gguf file nor a known model ({', '.join(models.MODELS)})")
    if not path.is_file():
        raise SpecError(f"local:{name}: no such file")
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise SpecError(f"local:{name} is not a GGUF file")
    return str(path.resolve())


def parse_settings(target: str) -> tuple[str, dict[str, Any]]:
    """``qwen-0.5b?n_ctx=8192&threads=1`` → (``qwen-0.5b``, settings); SpecError names a bad key."""
    name, _, query = target.partition("?")
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in ("n_ctx", "threads"):
            try:
                number = int(value)
            except ValueError:
                number = 0
            if number < (256 if key == "n_ctx" else 1):
                raise SpecError(f"local:{target}: {key}={value!r} must be an integer >= {256 if key == 'n_ctx' else 1}")
            out["n_ctx" if key == "n_ctx" else "n_threads"] = number
        elif key == "tools":
            if value not in ("auto", "native", "text"):
                raise SpecError(f"local:{target}: tools={value!r} must be auto, native or text")
            out["tools"] = value
        elif key == "kv":
            if value not in KV_MODES:
                raise SpecError(f"local:{target}: kv={value!r} must be {' or '.join(KV_MODES)}")
            out["kv"] = value
        else:
            raise SpecError(f"local:{target}: unknown setting {key!r} (n_ctx, threads, tools, kv)")
    return name.strip(), out


def make_local_agent(target: str, options: AgentOptions | None = None) -> LocalAgent:
    """Build the agent for ``local:TARGET``. Checks now what can be checked without loading the
    weights (the binding, the file, assembling a split model once); the model loads on the first request."""
    name, extra = parse_settings(target)
    if not name:
        raise SpecError(f"local: needs a model, e.g. local:{DEFAULT_MODEL} or local:PATH.gguf")
    if importlib.util.find_spec(BINDING) is None:
        raise SpecError(f"local:{name} needs {BINDING}, the optional extra: {EXTRA_HINT}")
    tools = extra.pop("tools", "auto")
    settings = LocalSettings(path=resolve_model(name), **extra)
    options = options or AgentOptions()
    provider = LocalProvider(f"local:{target.strip()}", settings, options, tools=tools)
    return LocalAgent(provider, options)
