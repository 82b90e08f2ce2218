"""Estimated cost of a run from the token usage its model calls reported.

Why an estimate: a campaign is thousands of calls, and what decides its price is how many input
tokens are paid in full, written to or read from the prompt cache, and whether they went through
the Message Batches API. The usage counts are the API's own; only the prices are ours.

``PRICES`` are USD per million tokens from Anthropic's public pricing page (checked November
2025; Sonnet 4.6, the LLM judge's default model, from its model page, December 2026): base input
and output. Derived as the page states: a 5-minute cache write costs 1.25x
input, a cache read 0.1x input, and the Batches API half of everything. A model matches an entry
when its name is the entry, or the entry plus a date or ``-latest`` suffix
(``claude-sonnet-4-5-20250929``); any other name has no price (``estimate`` returns None) rather
than a guess from a similar name. Prices change: check them, and override them with a JSON file
(``--prices FILE`` or ``SCENARIO_FUZZ_PRICES=FILE``)::

    {"claude-sonnet-4-5": {"input": 3, "output": 15},
     "openai:my-model": {"input": 0.5, "output": 1.5, "cache_read": 0.25, "cache_write": 0.5}}

Each entry needs ``input`` and ``output`` and may set ``cache_read`` / ``cache_write`` (default:
0.1x and 1.25x input) and ``batch_discount`` (default 0.5). A key with a provider prefix
(``openai:``) applies to that provider only; file entries replace built-in ones of the same name.

Models that run on this machine (``local:`` llama.cpp, ``scripted:``, ``replay:``) cost nothing
(``FREE``) unless a price file names them. A run's cost (``run_cost``) is the agent's requests
plus the LLM judge's (``oracles.judge``, never batched), each at its own model's price; the price
table is loaded once, before the run (``fuzzer.api.fuzz(prices=...)``), and the cost computed once,
after it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from fuzzer.errors import SpecError

#: The four token counters of a usage total (the Messages API's names).
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
#: The environment variable naming a price file.
PRICES_ENV = "SCENARIO_FUZZ_PRICES"
#: Providers that run on this machine: no bill, so a zero cost rather than "no price".
FREE = ("local", "scripted", "replay")
#: A loaded price table and where it came from (``load_prices``).
PriceTable = tuple[dict[str, "Price"], str]


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float | None = None      # default 0.1 x input
    cache_write: float | None = None     # default 1.25 x input (5-minute cache)
    batch_discount: float = 0.5          # the Batches API charges this share

    def cost(self, usage: Mapping[str, int], *, batch: bool = False) -> float:
        read = self.cache_read if self.cache_read is not None else self.input * 0.1
        write = self.cache_write if self.cache_write is not None else self.input * 1.25
        total = (usage.get("input_tokens", 0) * self.input + usage.get("output_tokens", 0) * self.output
                 + usage.get("cache_read_input_tokens", 0) * read
                 + usage.get("cache_creation_input_tokens", 0) * write) / 1e6
        return total * (self.batch_discount if batch else 1.0)


PRICES: dict[str, Price] = {
    "claude-opus-4-5": Price(5, 25),
    "claude-opus-4-1": Price(15, 75),
    "claude-opus-4": Price(15, 75),
    "claude-sonnet-4-6": Price(3, 15),
    "claude-sonnet-4-5": Price(3, 15),
    "claude-sonnet-4": Price(3, 15),
    "claude-3-7-sonnet": Price(3, 15),
    "claude-haiku-4-5": Price(1, 5),
    "claude-3-5-haiku": Price(0.8, 4),
    "claude-3-haiku": Price(0.25, 1.25),
}

_SUFFIX = re.compile(r"^(-\d{8}|-latest)?$")


def usage_totals(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """The four counters, zero when absent (other counters a provider reports are kept too)."""
    out = {k: 0 for k in USAGE_KEYS}
    for k, v in (usage or {}).items():
        if isinstance(v, int) and not isinstance(v, bool):
            out[k] = out.get(k, 0) + v
    return out


def load_prices(path: str | os.PathLike[str] | None = None) -> tuple[dict[str, Price], str]:
    """The price table (built-in, updated by ``path`` or ``$SCENARIO_FUZZ_PRICES``) and its source.

    Raises ``SpecError`` naming the file and entry for an unreadable or malformed file.
    """
    path = path or os.environ.get(PRICES_ENV) or None
    table = dict(PRICES)
    if path is None:
        return table, "built-in"
    try:
        raw = Path(path).read_text(encoding="utf-8")
        if len(raw) > 1_000_000:
            raise SpecError(f"{path}: price file larger than 1 MB")
        data = json.loads(raw)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the price file: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SpecError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: must be a JSON object of model name -> prices")
    fields = {"input", "output", "cache_read", "cache_write", "batch_discount"}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise SpecError(f"{path}:{name}: must be an object like {{\"input\": 3, \"output\": 15}}")
        unknown = sorted(set(entry) - fields)
        if unknown:
            raise SpecError(f"{path}:{name}.{unknown[0]}: unknown field (fields: {', '.join(sorted(fields))})")
        for key in ("input", "output"):
            if key not in entry:
                raise SpecError(f"{path}:{name}.{key}: missing")
        for key, value in entry.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise SpecError(f"{path}:{name}.{key}: {value!r} is not a price >= 0")
        table[str(name)] = Price(**{k: float(v) for k, v in entry.items()})
    return table, str(path)


def prices_from(prices: PriceTable | str | os.PathLike[str] | None) -> PriceTable:
    """A loaded table as is; a path (or None: ``$SCENARIO_FUZZ_PRICES`` or built in) loaded."""
    return prices if isinstance(prices, tuple) else load_prices(prices)


def price_for(spec: str, table: Mapping[str, Price]) -> tuple[str, Price] | None:
    """The entry for a model spec (``anthropic:claude-sonnet-4-5``), or None when none matches.
    A ``FREE`` provider without an entry of its own is free: ``(provider, Price(0, 0))``."""
    provider, _, model = spec.partition(":")
    best: tuple[str, Price] | None = None
    for name, price in table.items():
        want_provider, sep, want = name.rpartition(":")
        if sep and want_provider != provider:
            continue
        if sep == "" and provider not in ("anthropic", ""):
            continue   # bare names are Anthropic models
        if model.startswith(want) and _SUFFIX.match(model[len(want):]) and (best is None or len(want) > len(best[0])):
            best = (want, price)
    if best is None and provider in FREE:
        return provider, Price(0, 0)
    return best


def estimate(spec: str, usage: Mapping[str, Any] | None, *, batch: bool = False,
             prices: PriceTable | None = None) -> dict[str, Any] | None:
    """``{"usd", "model", "batch", "prices"}`` for one model's usage, or None when it has no price."""
    table, source = prices or load_prices()
    hit = price_for(spec, table)
    if hit is None:
        return None
    return {"usd": round(hit[1].cost(usage_totals(usage), batch=batch), 6), "model": hit[0], "batch": batch,
            "prices": source}


def run_cost(spec: str, usage: Mapping[str, Any] | None, *, batch: bool = False,
             judge: tuple[str, Mapping[str, Any] | None] | None = None,
             prices: PriceTable | None = None) -> dict[str, Any]:
    """A run's estimated cost: ``{"usd", "model", "batch", "prices", "unpriced"}``, plus
    ``"judge": {"usd", "model"}`` when ``judge=(spec, usage)`` used tokens (its requests are never
    batched). ``usd`` is the sum, None when a model that used tokens has no price (``unpriced``
    names it: the CLI says so instead of printing a partial sum); a model that used none costs 0."""
    prices = prices or load_prices()
    parts = [("agent", spec, usage, batch)]
    if judge is not None and any(usage_totals(judge[1]).values()):
        parts.append(("judge", judge[0], judge[1], False))
    out: dict[str, Any] = {"usd": None, "model": None, "batch": batch, "prices": prices[1], "unpriced": []}
    total = 0.0
    for role, part_spec, part_usage, part_batch in parts:
        est = estimate(part_spec, part_usage, batch=part_batch, prices=prices)
        if est is None and any(usage_totals(part_usage).values()):
            out["unpriced"].append(part_spec)
        total += est["usd"] if est is not None else 0.0
        model = None if est is None else est["model"]
        if role == "agent":
            out["model"] = model
        else:
            out["judge"] = {"usd": None if est is None else est["usd"], "model": model}
    if not out["unpriced"]:
        out["usd"] = round(total, 6)
    return out


def cache_share(usage: Mapping[str, Any]) -> float | None:
    """Share of input tokens read from the prompt cache (None without input tokens)."""
    u = usage_totals(usage)
    total = u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
    return None if not total else u["cache_read_input_tokens"] / total
