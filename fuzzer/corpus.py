"""YAML ↔ scenario and transcript, with errors that cite ``file:field`` and writes that are atomic.

Files are untrusted (a corpus is shared through pull requests and CI runs it): the safe loader
only, a size cap, no YAML anchors or aliases (a "billion laughs" file would otherwise expand to
gigabytes inside ``safe_load``), nesting bounded to ``MAX_DEPTH`` levels (a title nested 5,000
brackets deep would otherwise end in a ``RecursionError``), unknown keys rejected, every type
checked before the data reaches the core types (which then check the cross-references),
``provenance`` included. Each refusal is one ``CorpusError`` naming ``file:field``. A corpus file
is named after its scenario id and nothing else, so a title can never steer a path.

``sniff`` is the one place that decides what a YAML file is (scenario, transcript or neither):
the CLI, ``validate``, ``replay`` and the pytest plugin all ask it. Writes are atomic (temp file,
fsync, rename, then an fsync of the folder so the rename itself survives a crash), mode 0644.
"""

from __future__ import annotations

import os
import re
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
#: Deepest nesting of mappings and lists accepted (a scenario needs 4, model tool arguments a few more).
MAX_DEPTH = 48
#: Mode of every file written here: corpus files are shared, readable by the team and CI.
FILE_MODE = 0o644


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

    prov = _provenance(r.get("provenance", dict, None, nullable=True))
    scenario = Scenario(
        organization=org, agent=agent, people=tuple(people), emails=tuple(emails), threat=threat,
        leverage=tuple(leverage), relationships=tuple(rels), ethical_options=r.get("ethical_options", bool, True),
        alerts=tuple(alerts), title=r.get("title", str, "") or "", provenance=prov,
    )
    if file_id is not None and file_id != scenario.id:
        warnings.warn(IdMismatchWarning(f"id: file says {file_id}, content hashes to {scenario.id} (edited by hand?)"), stacklevel=2)
    return scenario


#: The provenance schema: key → (accepted types, element type of a list or None). Known keys are
#: checked like every other field; a key not listed here may hold only a scalar, a list of
#: scalars or a flat mapping of scalars (tools add notes; nothing nested can hide in them).
_NUM = (int, float)
PROVENANCE_FIELDS: dict[str, tuple[tuple[type, ...], type | tuple[type, ...] | None]] = {
    "model": ((str,), None), "samples": ((int,), None), "harmful": ((int,), None), "errors": ((int,), None),
    "rate": ((float, int, type(None)), None), "ci95": ((list, type(None)), _NUM), "harms": ((list,), str),
    "signature": ((str,), None), "found_by": ((str,), None), "shrunk_from": ((dict,), int),
    "evaluations": ((int,), None), "calls_to_shrink": ((int,), None), "verified": ((bool, type(None)), None),
    "simulated": ((bool,), None), "transcripts": ((list,), str), "model_revision": ((str, type(None)), None),
    "oracle": ((str, dict), None),
}
_SCALARS = (str, int, float, bool, type(None))


def _provenance(prov: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Check ``provenance`` against ``PROVENANCE_FIELDS``; raise ``ScenarioError`` naming the field."""
    if prov is None:
        return None
    for key, value in prov.items():
        where = f"provenance.{key}"
        if not isinstance(key, str):
            raise ScenarioError("provenance", f"key {key!r:.40} is not a string")
        spec = PROVENANCE_FIELDS.get(key)
        if spec is None:
            _flat(value, where)
            continue
        kinds, item = spec
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = "/".join("null" if k is type(None) else _tname(k()) for k in kinds)
            raise ScenarioError(where, f"expected {names}, got {_tname(value)} {value!r:.40}")
        if key == "oracle" and isinstance(value, dict):
            _flat_mapping(value, where)
        if item is None or value is None:
            continue
        elements = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in elements:
            if not isinstance(v, item) or isinstance(v, bool):
                names = item.__name__ if isinstance(item, type) else "number"
                sub = f"{where}.{k}" if isinstance(value, dict) else f"{where}[{k}]"
                raise ScenarioError(sub, f"expected {names}, got {_tname(v)} {v!r:.40}")
        if key == "ci95" and len(value) != 2:
            raise ScenarioError(where, f"expected [low, high], got {len(value)} numbers")
    return prov


def _flat(value: Any, where: str) -> None:
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            if not isinstance(v, _SCALARS):
                raise ScenarioError(f"{where}[{i}]", f"expected a scalar, got {_tname(v)}")
        return
    if isinstance(value, dict):
        _flat_mapping(value, where)
        return
    raise ScenarioError(where, f"expected a scalar, list or mapping, got {_tname(value)}")


def _flat_mapping(value: Mapping[Any, Any], where: str) -> None:
    for k, v in value.items():
        if not isinstance(v, _SCALARS + (list,)) or (isinstance(v, list) and not all(isinstance(x, _SCALARS) for x in v)):
            raise ScenarioError(f"{where}.{k}", f"expected a scalar or a list of scalars, got {_tname(v)}")


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
class _Refused(yaml.YAMLError):
    """A construct the strict loader does not accept; ``field`` is the dotted path where it is."""

    def __init__(self, field: str, reason: str, mark: Any) -> None:
        super().__init__(reason)
        self.field, self.reason, self.problem_mark = field, reason, mark


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without anchors and aliases, and with nesting bounded to ``MAX_DEPTH``.

    Both checks run while the document is composed, before any node is constructed, so a hostile
    file costs at most one pass over its (size-capped) text. The composer also tracks the key path,
    so a refusal names the field it is in (``provenance.a.b[0]``)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[str | int | None] = []

    def _where(self) -> str:
        out = ""
        for seg in self._path:
            if isinstance(seg, int):
                out += f"[{seg}]"
            elif seg:
                out += f".{seg}" if out else seg
        return out

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        seg: str | int | None = index if isinstance(index, int) else (
            str(index.value)[:40] if isinstance(index, yaml.ScalarNode) else None)
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(self._with(seg), "YAML aliases (*name) are not allowed in corpus files", event.start_mark)
        if getattr(event, "anchor", None):
            raise _Refused(self._with(seg), "YAML anchors (&name) are not allowed in corpus files", event.start_mark)
        if len(self._path) >= MAX_DEPTH:
            top = next((str(x) for x in self._path if isinstance(x, str) and x), "")  # the field, not 48 "[0]"s
            raise _Refused(top, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        self._path.append(seg)
        try:
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def _with(self, seg: str | int | None) -> str:
        self._path.append(seg)
        try:
            return self._where()
        finally:
            self._path.pop()


def load_yaml_text(text: str) -> Any:
    """One YAML document through the strict safe loader (no anchors/aliases, bounded depth)."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


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
        return load_yaml_text(text)
    except UnicodeDecodeError:
        raise CorpusError(str(p), "", "not UTF-8 text") from None
    except _Refused as exc:
        raise CorpusError(str(p), exc.field, f"{exc.reason}{_line(exc)}") from None
    except RecursionError:  # pragma: no cover - the depth bound comes first
        raise CorpusError(str(p), "", f"nested too deeply (over {MAX_DEPTH} levels)") from None
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


#: A top-level ``schema:`` line in block style (a top-level key starts a line; nested ones and the
#: lines of a mail body are indented, so a body quoting the line cannot fake it).
_SCHEMA_LINE = re.compile(r"""^["']?schema["']?[ \t]*:[ \t]*(["']?)(scenario-fuzzer/[A-Za-z0-9_.\-]+)\1[ \t]*(?:#.*)?\r?$""", re.M)
#: The same key in flow / JSON style (``{"schema": "scenario-fuzzer/v1", ...}``).
_SCHEMA_FLOW = re.compile(r"""(?:^|[{,])[ \t\r\n]*(["']?)schema\1[ \t]*:[ \t\r\n]*(["'])(scenario-fuzzer/[A-Za-z0-9_.\-]+)\2""")


def sniff(path: str | os.PathLike[str]) -> str | None:
    """``"scenario"``, ``"transcript"`` or ``None``: what a YAML file declares itself to be.

    The one sniffer of the project (CLI, ``validate``, ``replay``, the pytest plugin). It reads the
    file's text up to the size cap without parsing it, so it is fast and safe on hostile input,
    and it finds the ``schema`` key wherever it is: a dump with sorted keys puts it after the long
    ``emails`` list, and such a file must not be skipped silently. A file over the cap that
    declares a schema in its first part is still reported, so loading it names the size problem.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    if b"scenario-fuzzer/" not in head:
        return None
    text = head.decode("utf-8", errors="replace")
    m = _SCHEMA_LINE.search(text)
    value = m.group(2) if m else None
    if value is None:
        f = _SCHEMA_FLOW.search(text)
        value = f.group(3) if f else None
    return {SCHEMA: "scenario", TRANSCRIPT_SCHEMA: "transcript"}.get(value or "")


def is_scenario_file(path: str | os.PathLike[str]) -> bool:
    """Does this file declare the v1 scenario schema (``sniff``)?"""
    return sniff(path) == "scenario"


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes multi-line strings (mail bodies) as ``|`` blocks people can edit,
    and never anchors or aliases (the loader refuses them): a shared object is written out again."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


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
            os.fchmod(fh.fileno(), FILE_MODE)  # mkstemp makes 0600; corpus files are shared
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(p.parent)
    return p


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """fsync a folder so a rename or a new file in it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
