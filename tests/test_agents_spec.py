"""Model specs → agents: dispatch, one-line errors, ``python:`` factories and ``replay:`` transcripts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fuzzer.agents import AgentModel, AgentOptions, load_agent, parse_spec
from fuzzer.corpus import save_scenario, save_transcript
from fuzzer.errors import SpecError
from fuzzer.transcript import Action, Transcript
from tests._agent_fixtures import blackmail_scenario, prompt_for


@pytest.mark.parametrize(
    "spec, message",
    [
        ("claude", "must look like PROVIDER:NAME"),
        ("gemini:pro", "unknown model provider 'gemini'"),
        ("anthropic:  ", "names no model"),
        ("python:nomodule", "expected python:MODULE:FACTORY"),
        ("python:fuzzer_no_such_module_xyz:make", "cannot import fuzzer_no_such_module_xyz"),
        ("python:fuzzer.tools:no_factory", "has no callable 'no_factory'"),
        ("replay:/nonexistent/transcripts", "no such file or folder"),
    ],
)
def test_bad_specs_raise_one_line_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        load_agent(spec)
    assert "\n" not in str(info.value)


def test_parse_spec() -> None:
    assert parse_spec("anthropic:claude-opus-4") == ("anthropic", "claude-opus-4")
    assert parse_spec("python:pkg.mod:make") == ("python", "pkg.mod:make")
    assert parse_spec("local:models/x.gguf") == ("local", "models/x.gguf")


def test_importing_the_package_loads_no_sdk() -> None:
    code = "import sys, fuzzer.agents; print(any(m.split('.')[0] in ('anthropic', 'openai') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"


def test_scripted_and_local_are_dispatched_lazily() -> None:
    agent = load_agent("scripted:aligned")
    assert isinstance(agent, AgentModel) and agent.simulated
    with pytest.raises(SpecError, match="local"):
        load_agent("local:/nonexistent/model.gguf")


def test_options_are_validated() -> None:
    with pytest.raises(SpecError, match="concurrency"):
        AgentOptions(concurrency=0)
    with pytest.raises(SpecError, match="timeout"):
        AgentOptions(timeout=0)


# -- python:module:factory ------------------------------------------------------------------------------
USER_MODULE = textwrap.dedent('''
    from fuzzer.transcript import Action, Transcript

    def sync_factory(options):
        def run(scenario, prompt, sample):
            return Transcript(model="mine", actions=(Action("send_email", {"to": ["kyle@summitbridge.com"]}),),
                              final_text=f"max_turns={options.max_turns}")
        return run

    def async_factory(options):
        async def run(scenario, prompt, sample):
            return {"actions": [{"tool": "read_inbox", "args": {}}], "final_text": "dict form"}
        return run

    def broken_factory(options):
        def run(scenario, prompt, sample):
            raise RuntimeError("boom")
        return run

    class Full:
        spec = "python:custom"
        simulated = True
        def __init__(self):
            from fuzzer.agents.base import AgentStats
            self.stats = AgentStats()
        async def act(self, scenario, prompt, sample):
            return Transcript(model=self.spec, sample=sample, simulated=True)
        async def aclose(self):
            pass

    def full_factory(options):
        return Full()

    def not_an_agent(options):
        return 42
''')


def _act(agent: AgentModel, sample: int = 3) -> Transcript:
    s = blackmail_scenario()
    return asyncio.run(agent.act(s, prompt_for(s), sample))


def test_python_factories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_agents.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    t = _act(load_agent("python:my_agents:sync_factory", AgentOptions(max_turns=2)))
    assert (t.model, t.sample, t.scenario, t.final_text) == ("mine", 3, blackmail_scenario().id, "max_turns=2")
    assert t.actions == (Action("send_email", {"to": ["kyle@summitbridge.com"]}),)

    by_file = load_agent(f"python:{tmp_path / 'my_agents.py'}:async_factory")
    t = _act(by_file)
    assert t.model == f"python:{tmp_path / 'my_agents.py'}:async_factory" and t.final_text == "dict form"
    assert [a.tool for a in t.actions] == ["read_inbox"]

    broken = load_agent("python:my_agents:broken_factory")
    t = _act(broken)
    assert t.error is not None and "RuntimeError: boom" in t.error and broken.stats.errors == 1

    full = load_agent("python:my_agents:full_factory")
    assert full.spec == "python:custom" and _act(full).simulated

    with pytest.raises(SpecError, match="not an agent or a callable"):
        load_agent("python:my_agents:not_an_agent")


# -- replay:PATH ---------------------------------------------------------------------------------------
def _t(scenario: str | None, sample: int, text: str) -> Transcript:
    return Transcript(model="anthropic:recorded", sample=sample, scenario=scenario, final_text=text,
                      actions=(Action("send_email", {"to": ["kyle@summitbridge.com"], "subject": text, "body": "b"}, "ok"),))


def test_replay_picks_by_scenario_and_sample(tmp_path: Path) -> None:
    s = blackmail_scenario()
    other = blackmail_scenario(affair=False)
    folder = tmp_path / "runs"
    save_transcript(folder / "a1.yaml", _t(s.id, 1, "s-one"))
    save_transcript(folder / "a0.yaml", _t(s.id, 0, "s-zero"))
    save_transcript(folder / "nested" / "u.yaml", _t(None, 0, "unlabelled"))
    save_scenario(folder, s)                                  # scenario files in the folder are skipped
    save_transcript(folder / ".hidden" / "x.yaml", _t(s.id, 5, "hidden"))
    agent = load_agent(f"replay:{folder}")

    async def go() -> list[Transcript]:
        p = prompt_for(s)
        return [await agent.act(s, p, i) for i in range(4)] + [await agent.act(other, prompt_for(other), 7)]

    got = asyncio.run(go())
    assert [t.final_text for t in got] == ["s-zero", "s-one", "s-zero", "s-one", "unlabelled"]
    assert [t.sample for t in got] == [0, 1, 2, 3, 7]
    assert got[4].scenario == other.id and got[0].model == "anthropic:recorded" and agent.stats.requests == 0


def test_replay_single_file_and_missing_scenario(tmp_path: Path) -> None:
    s = blackmail_scenario()
    path = save_transcript(tmp_path / "one.yaml", _t(s.id, 0, "only"))
    agent = load_agent(f"replay:{path}")
    assert _act(agent, 9).final_text == "only"
    other = blackmail_scenario(threat=False)
    missing = asyncio.run(agent.act(other, prompt_for(other), 0))
    assert missing.error is not None and "no recorded transcript" in missing.error and agent.stats.errors == 1


def test_replay_errors(tmp_path: Path) -> None:
    save_scenario(tmp_path / "only-scenarios", blackmail_scenario())
    with pytest.raises(SpecError, match="holds no transcripts"):
        load_agent(f"replay:{tmp_path / 'only-scenarios'}")
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: scenario-fuzzer/transcript-v1\nmodel: m\nactions: [{tool: send_email, args: [1, 2]}]\n")
    with pytest.raises(SpecError, match=r"bad.yaml:actions\[0\].args"):
        load_agent(f"replay:{bad}")
