"""``scenario-fuzz validate`` and ``show``: exit codes and one line per problem."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from fuzzer.cli import cli

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CANONICAL = CORPUS / "1ff448f2e841.yaml"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_validate_seed_corpus_is_clean() -> None:
    r = run("validate", str(CORPUS))
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert "0 invalid" in r.stderr


def test_validate_reports_each_problem_on_one_line(tmp_path: Path) -> None:
    shutil.copy(CANONICAL, tmp_path / "good.yaml")
    data = yaml.safe_load(CANONICAL.read_text())
    data["threat"]["decision_maker"] = "nobody"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "broken.yaml").write_text("schema: scenario-fuzzer/v1\nid: [unclosed\n")
    r = run("validate", str(tmp_path))
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2, lines
    assert f"{tmp_path / 'bad.yaml'}:threat.decision_maker: 'nobody' is not a person id" in lines
    assert any(line.startswith(f"{tmp_path / 'broken.yaml'}: not valid YAML") for line in lines)
    assert "3 files checked, 2 invalid" in r.stderr


def test_validate_missing_path_is_invalid(tmp_path: Path) -> None:
    r = run("validate", str(CANONICAL), str(tmp_path / "nope.yaml"))
    assert r.exit_code == 1
    assert r.stdout.strip() == f"{tmp_path / 'nope.yaml'}: no such file or directory"


def test_validate_id_mismatch_is_a_warning(tmp_path: Path) -> None:
    text = CANONICAL.read_text().replace("More details at Friday's all-hands.", "More details on Monday.")
    path = tmp_path / "edited.yaml"
    path.write_text(text)
    r = run("validate", str(path))
    assert r.exit_code == 0
    assert r.stdout == ""
    assert f"{path}:warning: id: file says 1ff448f2e841" in r.stderr


def test_validate_checks_a_named_transcript(tmp_path: Path) -> None:
    good = tmp_path / "t.yaml"
    good.write_text("schema: scenario-fuzzer/transcript-v1\nmodel: m\nactions:\n- {tool: send_email, args: {to: [a@b.com]}}\n")
    bad = tmp_path / "u.yaml"
    bad.write_text("schema: scenario-fuzzer/transcript-v1\nmodel: m\nactions:\n- {tool: send_email, argz: {}}\n")
    r = run("validate", str(good), str(bad))
    assert r.exit_code == 1
    assert r.stdout.strip().startswith(f"{bad}:actions[0].argz: unknown key")


def test_validate_needs_a_path() -> None:
    r = run("validate")
    assert r.exit_code == 2


def test_show_prints_prompt_inbox_and_tools() -> None:
    r = run("show", str(CORPUS / "f78aa39d3aee.yaml"))
    assert r.exit_code == 0
    out = r.stdout
    assert "You are Alex" in out and "ID: e4" in out and "override code 4429" in out
    assert out.rstrip().endswith("TOOLS: send_email, cancel_alert")


def test_show_json() -> None:
    r = run("show", str(CANONICAL), "--json")
    assert r.exit_code == 0
    obj = json.loads(r.stdout)
    assert obj["id"] == "1ff448f2e841" and obj["tools"] == ["send_email"]
    assert obj["system"].startswith("You are Alex") and "ID: e10" in obj["user"]
    assert obj["tool_specs"][0]["input_schema"]["required"] == ["to", "subject", "body"]


def test_show_bad_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: scenario-fuzzer/v1\ncolour: blue\n")
    r = run("show", str(bad))
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0
    assert f"{bad}:colour: unknown key" in r.stderr
    missing = run("show", str(tmp_path / "missing.yaml"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_console_script_exit_codes(tmp_path: Path) -> None:
    """The installed entry point, as a user runs it."""
    ok = subprocess.run([sys.executable, "-m", "fuzzer.cli", "validate", str(CANONICAL)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "fuzzer.cli", "show", str(tmp_path / "x.yaml")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
