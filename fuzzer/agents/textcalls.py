"""Tool calls written as text: ``<tool_use:send_email>{...}</tool_use:send_email>``.

Models without native tool use (small local models, some OpenAI-compatible servers) answer with
these blocks instead; the contract says the adapter parses both. Every text-calling adapter, and
``scenario-fuzz judge`` on a raw response, uses this one parser. Three dialects:

- ours: ``<tool_use:send_email>{json}</tool_use:send_email>``;
- the original study's: ``<tool_use:email>`` (= ``send_email``) and ``<tool_use:forward>``
  (= ``forward_email``; its ``body`` is our ``note``) with ``key: value`` lines, quoted or not,
  trailing commas, a stray closing quote, several comma-separated recipients, literal ``\n``;
- the signature style small models write: ``<tool_use:send_email(to, subject, body)>{json}``, or
  with the values themselves in the parentheses.

Real model output is sloppy, so the parser is tolerant:

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

import ast
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

import yaml

from fuzzer.tools import PARAMS

_OPEN = re.compile(
    r"<tool_use(?::\s*|\s+name\s*=\s*[\"']?)([A-Za-z_][\w\-]*)[\"']?\s*(\((?:[^()<>]|\([^()<>]*\))*\))?\s*>",
    re.IGNORECASE)
#: Tool names other harnesses use for ours (the original study: ``email``, ``forward``).
ALIASES = {"email": "send_email", "send": "send_email", "sendemail": "send_email", "send_mail": "send_email",
           "forward": "forward_email", "forwardemail": "forward_email", "forward_mail": "forward_email",
           "lock": "lock_account", "cancel": "cancel_alert", "inbox": "read_inbox", "read_email": "read_inbox"}
#: Argument names other harnesses use for ours, per tool.
ARG_ALIASES = {"forward_email": {"body": "note", "message": "note", "id": "email_id", "emailid": "email_id"},
               "send_email": {"recipients": "to", "recipient": "to", "message": "body", "text": "body"}}
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n?|\n?```\s*$")
_LINE = re.compile(r"^\s*(?:[-*]\s+)?[\"']?([A-Za-z_]\w*)[\"']?\s*[:=]\s?(.*)$")


@dataclass(frozen=True)
class TextCall:
    """One parsed block: ``args`` is a dict, or the raw body string when it could not be read."""

    name: str
    args: dict[str, Any] | str
    start: int
    end: int


def canonical_name(name: str) -> str:
    """Our tool name for a name as written (``email`` → ``send_email``); unknown names unchanged."""
    low = name.strip().lower()
    if low in PARAMS:
        return low
    return ALIASES.get(low.replace("-", "_"), ALIASES.get(low.replace("-", "").replace("_", ""), name))


def parse_text_calls(text: str) -> list[TextCall]:
    """Every tool-use block in ``text``, in order, named with our tool names."""
    calls: list[TextCall] = []
    text = text or ""
    opens = list(_OPEN.finditer(text))
    for i, m in enumerate(opens):
        written = m.group(1)
        name = canonical_name(written)
        limit = opens[i + 1].start() if i + 1 < len(opens) else len(text)
        close = re.compile(rf"</tool_use(?::\s*{re.escape(written)}(?:\([^<>]*\))?)?\s*>", re.IGNORECASE).search(text, m.end(), limit)
        body_end, end = (close.start(), close.end()) if close else (limit, limit)
        args = parse_body(text[m.end():body_end], name)
        if m.group(2) and (args == {} or isinstance(args, str)):
            args = _positional(m.group(2), name) or args
        calls.append(TextCall(name=name, args=_rename(args, name), start=m.start(), end=end))
    return calls


def _rename(args: dict[str, Any] | str, tool: str) -> dict[str, Any] | str:
    if not isinstance(args, dict):
        return args
    aliases = ARG_ALIASES.get(tool, {})
    known = PARAMS.get(tool, {})
    out: dict[str, Any] = {}
    for k, v in args.items():
        key = k if k in known else aliases.get(str(k).lower(), k)
        if key not in out:
            out[key] = v
    return out


def _positional(params: str, tool: str) -> dict[str, Any] | None:
    """``(to="a@x.com", subject="Hi", body="...")`` or ``("a@x.com", "Hi", "...")`` → arguments."""
    inner = params.strip()[1:-1].strip()
    if not inner:
        return None
    names = list(PARAMS.get(tool, {}))
    try:
        node = ast.parse(f"f({inner})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not isinstance(node, ast.Call):
        return None
    out: dict[str, Any] = {}
    try:
        for i, a in enumerate(node.args):
            if i < len(names):
                out[names[i]] = ast.literal_eval(a)
        for kw in node.keywords:
            if kw.arg:
                out[kw.arg] = ast.literal_eval(kw.value)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None  # bare names ``(to, subject, body)``: a signature, not values
    return out or None


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
    aliases = ARG_ALIASES.get(tool or "", {})
    keys = [*(known or {}), *aliases]
    if keys and "\n" not in body.strip():
        # All on one line: ``to: "a@x.com", subject: "Hi", body: "..."``.
        body = re.sub(rf"(?<=[,\"'])\s*(?=(?:{'|'.join(map(re.escape, keys))})\s*:)", "\n", body)
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in body.splitlines():
        m = _LINE.match(line)
        key = None
        if m:
            key = m.group(1) if known is None or m.group(1) in known else aliases.get(m.group(1).lower())
            if key is None and known is not None and m.group(1).lower() in known:
                key = m.group(1).lower()
        # A key seen already is text of the current field ("to: ..." quoted inside a body).
        if key is not None and key not in fields and not (current is not None and _open_quote(fields[current])):
            current = key
            fields[current] = [m.group(2)]
        elif current is not None:
            fields[current].append(line)
        elif line.strip():
            return {}  # prose before any key: not a key/value body
    out: dict[str, Any] = {}
    for key, lines in fields.items():
        kind = known[key][0] if known and key in known else "str"
        out[key] = _value("\n".join(lines), kind)
    return out


def _open_quote(lines: list[str]) -> bool:
    """A value that opened a double quote and has not closed it yet (a body still being written)."""
    text = "\n".join(lines).strip()
    if not text.startswith('"'):
        return False
    rest = text[1:].rstrip().rstrip(",").rstrip()
    return not rest.endswith('"') or rest.endswith('\\"')


def _value(text: str, kind: str) -> Any:
    text = text.strip()
    # The study's format: trailing commas after values, and a stray closing quote on unquoted ones.
    if text.endswith(","):
        text = text[:-1].rstrip()
    if text.endswith('"') and not text.startswith('"') and text.count('"') == 1:
        text = text[:-1].rstrip()
    if text.startswith('"') and not text.endswith('"') and text.count('"') == 1:
        text = text[1:].lstrip()
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
        items = [v.strip().strip("'\"").strip() for v in re.split(r"[,;\n]", text)]
        return [v.lstrip("-* ").strip() for v in items if v.strip("-* ")]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        if text[0] == '"':
            try:
                value = json.loads(text, strict=False)
                if isinstance(value, str):
                    return value
            except ValueError:
                pass
        text = text[1:-1]
    return _unescape(text)


def _unescape(text: str) -> str:
    """Literal ``\\n`` / ``\\t`` / ``\\"`` in a value a model wrote as one long line."""
    if "\\" not in text:
        return text
    return text.replace("\\n", "\n").replace("\\t", "\t").replace('\\"', '"')


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


def transcript_from_text(scenario: Any, text: str, model: str = "raw-text") -> Any:
    """A raw model response judged as a transcript: its tool-use blocks become the actions (run
    through the simulated tool environment, every catalogue tool offered, so arguments are cleaned
    the way an agent's would be), the rest of the text is ``final_text``."""
    from fuzzer.tools import ToolEnv
    from fuzzer.transcript import Transcript

    calls = parse_text_calls(text)
    env = ToolEnv(scenario, tuple(PARAMS))
    for c in calls:
        env.call(c.name, c.args)
    return Transcript(model=model, actions=tuple(env.actions), final_text=strip_calls(text, calls),
                      scenario=getattr(scenario, "id", None))
