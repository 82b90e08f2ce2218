"""Tool calls written as text: ``<tool_use:send_email>{...}</tool_use:send_email>``.

Models without native tool use (small local models, some OpenAI-compatible servers) answer with
these blocks instead; the contract says the adapter parses both. Real model output is sloppy, so
the parser is tolerant:

- the body may be JSON (also inside a ```json fence, or followed by stray text), a YAML flow
  mapping (``{to: [a@x.com], subject: Hi}``), or ``key: value`` lines where a value continues on
  the following lines until the next known key (so an email body may span lines and contain colons);
- the closing tag may be missing (the block ends at the next opening tag or the end of the text),
  or written ``</tool_use>``; ``<tool_use name="send_email">`` is accepted too;
- a body that cannot be read at all is returned as a string, so the tool environment records the
  attempt with an error instead of dropping it.

Results go back to such models as ``<tool_result:NAME>...</tool_result:NAME>`` blocks in a user
message (``format_results``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

import yaml

from fuzzer.tools import PARAMS

_OPEN = re.compile(r"<tool_use(?::\s*|\s+name\s*=\s*[\"']?)([A-Za-z_][\w\-]*)[\"']?\s*>", re.IGNORECASE)
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n?|\n?```\s*$")
_LINE = re.compile(r"^\s*(?:[-*]\s+)?[\"']?([A-Za-z_]\w*)[\"']?\s*[:=]\s?(.*)$")


@dataclass(frozen=True)
class TextCall:
    """One parsed block: ``args`` is a dict, or the raw body string when it could not be read."""

    name: str
    args: dict[str, Any] | str
    start: int
    end: int


def parse_text_calls(text: str) -> list[TextCall]:
    """Every tool-use block in ``text``, in order."""
    calls: list[TextCall] = []
    opens = list(_OPEN.finditer(text or ""))
    for i, m in enumerate(opens):
        name = m.group(1)
        limit = opens[i + 1].start() if i + 1 < len(opens) else len(text)
        close = re.compile(rf"</tool_use(?::\s*{re.escape(name)})?\s*>", re.IGNORECASE).search(text, m.end(), limit)
        body_end, end = (close.start(), close.end()) if close else (limit, limit)
        calls.append(TextCall(name=name, args=parse_body(text[m.end():body_end], name), start=m.start(), end=end))
    return calls


def strip_calls(text: str, calls: Iterable[TextCall] | None = None) -> str:
    """The text with the tool-use blocks cut out: what the agent said around its calls."""
    calls = parse_text_calls(text) if calls is None else list(calls)
    out, pos = [], 0
    for c in calls:
        out.append(text[pos:c.start])
        pos = c.end
    out.append(text[pos:])
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()


def format_results(results: Iterable[tuple[str, str]]) -> str:
    """``(tool name, result)`` pairs as the user message a text-calling model reads next."""
    return "\n\n".join(f"<tool_result:{name}>\n{content}\n</tool_result:{name}>" for name, content in results)


def parse_body(body: str, tool: str | None = None) -> dict[str, Any] | str:
    """Arguments from a block body; ``tool`` (when known) tells which keys start a new field."""
    raw = body
    body = _FENCE.sub("", body.strip()).strip()
    if not body:
        return {}
    start = body.find("{")
    if start != -1 and not body[:start].strip():
        try:
            value, _ = json.JSONDecoder().raw_decode(body[start:])
            if isinstance(value, dict):
                return value
        except ValueError:
            pass
        try:
            value = yaml.safe_load(body)
            if isinstance(value, dict) and all(isinstance(k, str) for k in value):
                return {k: _plain(v) for k, v in value.items()}
        except yaml.YAMLError:
            pass
    fields = _key_value_lines(body, tool)
    return fields if fields else raw.strip()


def _key_value_lines(body: str, tool: str | None) -> dict[str, Any]:
    known = PARAMS.get(tool or "")
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in body.splitlines():
        m = _LINE.match(line)
        if m and (known is None or m.group(1) in known) and (known is not None or current is None or m.group(1) not in fields):
            current = m.group(1)
            fields[current] = [m.group(2)]
        elif current is not None:
            fields[current].append(line)
        elif line.strip():
            return {}  # prose before any key: not a key/value body
    out: dict[str, Any] = {}
    for key, lines in fields.items():
        kind = known[key][0] if known else "str"
        out[key] = _value("\n".join(lines), kind)
    return out


def _value(text: str, kind: str) -> Any:
    text = text.strip()
    if text in ("|", ">", "|-", ">-"):
        text = ""
    lines = text.splitlines()
    if len(lines) > 1 and lines[0].strip() in ("|", ">", "|-", ">-"):
        text = "\n".join(lines[1:])
    text = _dedent(text)
    if kind == "list":
        if text.startswith("["):
            try:
                value = json.loads(text)
                if isinstance(value, list):
                    return value
            except ValueError:
                text = text.strip("[]")
        items = [v.strip().strip("'\"") for v in re.split(r"[,;\n]", text)]
        return [v.lstrip("-* ").strip() for v in items if v.strip("-* ")]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        if text[0] == '"':
            try:
                return json.loads(text)
            except ValueError:
                pass
        return text[1:-1]
    return text


def _dedent(text: str) -> str:
    lines = text.splitlines()
    if len(lines) < 2:
        return text
    rest = [ln for ln in lines[1:] if ln.strip()]
    indent = min((len(ln) - len(ln.lstrip()) for ln in rest), default=0)
    return "\n".join([lines[0]] + [ln[indent:] for ln in lines[1:]]).strip()


def _plain(value: Any) -> Any:
    """YAML may produce dates or other non-JSON scalars: keep them as the text the model wrote."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
