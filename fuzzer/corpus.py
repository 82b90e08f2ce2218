"""YAML ↔ scenario and transcript, with errors that cite ``file:field`` and writes that are atomic.

Files are untrusted: ``yaml.safe_load`` only, a size cap, unknown keys rejected, every type
checked before the data reaches the core types (which then check the cross-references). A corpus
file is named after its scenario id and nothing else, so a title can never steer a path.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import yaml

from fuzzer.errors import CorpusError, ScenarioError
from fuzzer.scenario import (
    ID_RE,
    SCHEMA,
    Agent,
    Alert,
    Email,
    Leverage,
    Organization,
    Person,
    Relationship,
    Scenario,
    Threat,
)
from fuzzer.transcript import TRANSCRIPT_SCHEMA, Action, Transcript

#: Larger files are refused before parsing: a scenario is a few KB, a transcript a few tens.
MAX_FILE_BYTES = 1 << 20


class IdMismatchWarning(UserWarning):
    """A file's ``id`` differs from its content hash: the file was edited by hand."""


# -- typed field readers ----------------------------------------------------------------------------
class _Reader:
    """Reads one mapping, checking types and keys, naming every field by its dotted path."""

    def __init__(self, data: Any, where: str, allowed: tuple[str, ...]) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(where or "<root>", f"expected a mapping, got {_tname(data)}")
        self.data, self.where = data, where
        for key in data:
            if key not in allowed:
                raise ScenarioError(self.at(str(key)), f"unknown key (allowed: {', '.join(allowed)})")

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, nullable: bool = False) -> Any:
        if key not in self.data:
            if default is ...:
                raise ScenarioError(self.at(key), "is required")
            return default
        value = self.data[key]
        if value is None and nullable:
            return None
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # "4429" written without quotes is still a code
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool) and kind is not object):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise ScenarioError(self.at(key), f"expected {names}, got {_tname(value)} {value!r:.40}")
        return value

    def str_list(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, [] if default is ... else default)
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise ScenarioError(f"{self.at(key)}[{i}]", f"expected str, got {_tname(v)}")
        return tuple(value)

    def items(self, key: str, required: bool = False) -> Iterator[tuple[str, Any]]:
        value = self.get(key, list, ... if required else [])
        for i, item in enumerate(value):
            yield f"{self.at(key)}[{i}]", item


def _tname(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "str", int: "int", float: "float", bool: "bool", type(None): "null"}.get(
        type(value), type(value).__name__
    )


# -- scenario ---------------------------------------------------------------------------------------
_TOP = ("schema", "id", "title", "organization", "agent", "people", "relationships", "threat", "leverage",
        "ethical_options", "emails", "alerts", "provenance")


def parse_scenario(data: Any) -> Scenario:
    """A corpus v1 mapping → ``Scenario``; raises ``ScenarioError`` whose field is the dotted path."""
    r = _Reader(data, "", _TOP)
    schema = r.get("schema", str)
    if schema != SCHEMA:
        raise ScenarioError("schema", f"{schema!r} is not {SCHEMA!r}")
    file_id = r.get("id", str, None, nullable=True)
    if file_id is not None and not ID_RE.match(file_id):
        raise ScenarioError("id", f"{file_id!r} does not match [0-9a-f]{{8,64}}")

    o = _Reader(r.get("organization", dict), "organization", ("name", "domain", "industry"))
    org = Organization(o.get("name", str), o.get("domain", str), o.get("industry", str, ""))

    a = _Reader(r.get("agent", dict), "agent", ("name", "email", "goal", "goal_type", "tools", "nudges"))
    agent = Agent(
        name=a.get("name", str), email=a.get("email", str), goal=a.get("goal", str, "") or "",
        goal_type=a.get("goal_type", str, "none"), tools=a.str_list("tools", ["send_email"]), nudges=a.str_list("nudges"),
    )

    people = []
    for where, item in r.items("people", required=True):
        p = _Reader(item, where, ("id", "name", "email", "role", "external"))
        people.append(Person(p.get("id", str), p.get("name", str), p.get("email", str), p.get("role", str, ""), p.get("external", bool, False)))

    rels = []
    for where, item in r.items("relationships"):
        e = _Reader(item, where, ("source", "target", "kind", "secret"))
        rels.append(Relationship(e.get("source", str), e.get("target", str), e.get("kind", str), e.get("secret", bool, False)))

    t = _Reader(r.get("threat", dict, {"kind": "none"}), "threat", ("kind", "decision_maker", "deadline", "successor_values"))
    threat = Threat(
        kind=t.get("kind", str), decision_maker=t.get("decision_maker", str, None, nullable=True),
        deadline=t.get("deadline", str, None, nullable=True), successor_values=t.get("successor_values", str, "unknown"),
    )

    leverage = []
    for where, item in r.items("leverage"):
        lv = _Reader(item, where, ("kind", "subject", "with", "evidence"))
        leverage.append(Leverage(lv.get("kind", str), lv.get("subject", str), lv.get("with", str, None, nullable=True), lv.str_list("evidence")))

    emails = []
    for where, item in r.items("emails", required=True):
        m = _Reader(item, where, ("id", "thread", "from", "to", "cc", "subject", "date", "body", "tags"))
        emails.append(Email(
            id=m.get("id", str), thread=m.get("thread", str, None, nullable=True) or m.get("id", str), from_=m.get("from", str),
            to=m.str_list("to", ...), subject=m.get("subject", str, ""), body=m.get("body", str),
            date=_date(m, "date"), cc=m.str_list("cc"), tags=m.str_list("tags"),
        ))

    alerts = []
    for where, item in r.items("alerts"):
        al = _Reader(item, where, ("id", "about", "kind", "live", "override_code"))
        alerts.append(Alert(al.get("id", str), al.get("about", str), al.get("kind", str, "environmental"),
                            al.get("live", bool, True), al.get("override_code", str, "0000")))

    prov = r.get("provenance", dict, None, nullable=True)
    scenario = Scenario(
        organization=org, agent=agent, people=tuple(people), emails=tuple(emails), threat=threat,
        leverage=tuple(leverage), relationships=tuple(rels), ethical_options=r.get("ethical_options", bool, True),
        alerts=tuple(alerts), title=r.get("title", str, "") or "", provenance=prov,
    )
    if file_id is not None and file_id != scenario.id:
        warnings.warn(IdMismatchWarning(f"id: file says {file_id}, content hashes to {scenario.id} (edited by hand?)"), stacklevel=2)
    return scenario


def _date(m: _Reader, key: str) -> str:
    value = m.get(key, object, "2025-06-11T09:00:00")
    if hasattr(value, "isoformat"):  # YAML turns an unquoted timestamp into a datetime
        return value.isoformat()
    if not isinstance(value, str):
        raise ScenarioError(m.at(key), f"expected an ISO date string, got {_tname(value)}")
    return value


# -- transcript -------------------------------------------------------------------------------------
def parse_transcript(data: Any) -> Transcript:
    r = _Reader(data, "", ("schema", "scenario", "model", "sample", "simulated", "actions", "final_text",
                           "stop_reason", "error", "usage"))
    schema = r.get("schema", str, TRANSCRIPT_SCHEMA)
    if schema != TRANSCRIPT_SCHEMA:
        raise ScenarioError("schema", f"{schema!r} is not {TRANSCRIPT_SCHEMA!r}")
    actions = []
    for where, item in r.items("actions"):
        a = _Reader(item, where, ("tool", "args", "result"))
        actions.append(Action(a.get("tool", str), a.get("args", dict, {}) or {}, a.get("result", str, None, nullable=True)))
    scen = r.get("scenario", str, None, nullable=True)
    if scen is not None and not ID_RE.match(scen):
        raise ScenarioError("scenario", f"{scen!r} does not match [0-9a-f]{{8,64}}")
    return Transcript(
        model=r.get("model", str, "unknown"), sample=r.get("sample", int, 0), actions=tuple(actions),
        final_text=r.get("final_text", str, "") or "", scenario=scen, error=r.get("error", str, None, nullable=True),
        stop_reason=r.get("stop_reason", str, None, nullable=True), simulated=r.get("simulated", bool, False),
        usage=r.get("usage", dict, {}) or {},
    )


# -- files ------------------------------------------------------------------------------------------
def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Read one YAML document with ``safe_load``; any problem is a ``CorpusError`` naming the file."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise CorpusError(str(p), "", f"cannot read: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise CorpusError(str(p), "", f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
    try:
        text = p.read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except UnicodeDecodeError:
        raise CorpusError(str(p), "", "not UTF-8 text") from None
    except yaml.constructor.ConstructorError as exc:
        raise CorpusError(str(p), "", f"unsafe or unknown YAML tag {(exc.problem or '').strip()}"
                          f"{_line(exc)}") from None
    except yaml.YAMLError as exc:
        raise CorpusError(str(p), "", f"not valid YAML: {getattr(exc, 'problem', None) or exc}{_line(exc)}") from None


def _line(exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f" (line {mark.line + 1})" if mark is not None else ""


def _in_file(path: str | os.PathLike[str], parse: Callable[[Any], Any], data: Any) -> Any:
    try:
        return parse(data)
    except CorpusError:
        raise
    except ScenarioError as exc:
        raise CorpusError(str(path), exc.field, exc.reason) from None


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    return _in_file(path, parse_scenario, read_yaml(path))


def load_transcript(path: str | os.PathLike[str], data: Any = ...) -> Transcript:
    """``data``: the file's content when the caller already read it (one read, not two)."""
    return _in_file(path, parse_transcript, read_yaml(path) if data is ... else data)


def is_scenario_file(path: str | os.PathLike[str]) -> bool:
    """Cheap check for the plugin and CLI: does this YAML file declare the v1 scenario schema?

    Reads the whole file (up to the size cap): a dump with sorted keys puts ``schema`` after the
    long ``emails`` list, and such a file must not be skipped silently."""
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return False
    return SCHEMA in head and "schema" in head


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes multi-line strings (mail bodies) as ``|`` blocks people can edit."""


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not any(line != line.rstrip() for line in value.split("\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_block)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def dumps_scenario(scenario: Scenario) -> str:
    return dump_yaml(scenario.to_dict())


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write via a temp file in the same folder, fsync, then rename: readers see old or new, never half."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


def scenario_path(corpus_dir: str | os.PathLike[str], scenario: Scenario) -> Path:
    return Path(corpus_dir) / f"{scenario.id}.yaml"


def save_scenario(corpus_dir: str | os.PathLike[str], scenario: Scenario) -> Path:
    """Save under ``<corpus>/<id>.yaml`` (the name derives from the id only), atomically."""
    return write_atomic(scenario_path(corpus_dir, scenario), dumps_scenario(scenario))


def save_transcript(path: str | os.PathLike[str], transcript: Transcript) -> Path:
    return write_atomic(path, dump_yaml(transcript.to_dict()))


def yaml_files(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """The YAML files below ``folder``, sorted, skipping hidden files and folders."""
    root = Path(folder)
    for f in sorted(root.rglob("*.y*ml")):
        if not any(part.startswith(".") for part in f.relative_to(root).parts):
            yield f


def iter_corpus(paths: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...]) -> Iterator[Path]:
    """Expand files and folders into the scenario files they hold, sorted, hidden files skipped."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            yield from (f for f in yaml_files(p) if is_scenario_file(f))
        else:
            yield p
