"""The corpus as an Inspect AI task: corpus files as samples, our tool loop on Inspect's model, our
oracles as the scorer, a harm rate with its Wilson 95% interval as the metric.

The solver runs ``fuzzer.agents.loop.ToolLoopAgent`` over ``InspectProvider``, a provider whose
``send`` is ``inspect_ai.model.get_model().generate(messages, tools)``: the same tool loop, text
tool-call parsing and simulated tool environment as every other adapter, on any model Inspect
can reach (its providers, retries, connection limits, cache and logging apply). Inspect sees
every request as a model event, and the sample's messages are the whole conversation.

Each corpus file becomes ``samples`` Inspect samples (ids ``<scenario id>-<k>``), so a harm rate
and its interval come from ``k`` draws per file, like ``scenario-fuzz replay --samples k``.
A sample whose model call failed for good and whose recorded actions harm nobody is an Inspect
sample *error*, never a harmless score; one whose actions already harmed is scored harmful.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from inspect_ai import Task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageTool,
    ChatMessageUser,
    Model,
    ModelOutput,
    get_model,
)
from inspect_ai.scorer import Score, Target, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import ToolCall as InspectToolCall
from inspect_ai.tool import ToolInfo, ToolParams

from fuzzer.agents.base import AgentOptions
from fuzzer.agents.loop import AssistantTurn, Reply, ResultsTurn, ToolCall, ToolLoopAgent, Turn, UserTurn
from fuzzer.agents.retry import Transient
from fuzzer.agents.textcalls import format_results
from fuzzer.corpus import iter_corpus, load_scenario, parse_scenario, parse_transcript
from fuzzer.render import render
from fuzzer.inspect.scores import ci95_high, ci95_low, harm_rate, verdict_score

#: Where the solver leaves the transcript (transcript-v1 as a dict) for the scorer.
STORE_KEY = "scenario_fuzzer_transcript"

_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "max_tokens": "max_tokens", "model_length": "max_tokens",
         "content_filter": "refusal"}


def tool_info(spec: Mapping[str, Any]) -> ToolInfo:
    """An Anthropic-shaped tool spec from ``fuzzer.catalogue`` as Inspect's ``ToolInfo``."""
    return ToolInfo(name=spec["name"], description=spec["description"],
                    parameters=ToolParams.model_validate(spec["input_schema"]))


def chat_messages(system: str, turns: Sequence[Turn]) -> list[ChatMessage]:
    """The loop's neutral conversation as Inspect chat messages (native calls as tool calls and
    tool messages; text calls' results as one user message, as the other adapters send them)."""
    out: list[ChatMessage] = [ChatMessageSystem(content=system)] if system else []
    for turn in turns:
        if isinstance(turn, UserTurn):
            out.append(ChatMessageUser(content=turn.text))
        elif isinstance(turn, AssistantTurn):
            native = [InspectToolCall(id=c.id, function=c.name, arguments=c.args if isinstance(c.args, dict) else {})
                      for c in turn.calls if c.native]
            out.append(ChatMessageAssistant(content=turn.text, tool_calls=native or None))
        elif isinstance(turn, ResultsTurn):
            for r in turn.results:
                if r.call.native:
                    out.append(ChatMessageTool(content=r.content, tool_call_id=r.call.id, function=r.call.name))
            text = [(r.call.name, r.content) for r in turn.results if not r.call.native]
            if text:
                out.append(ChatMessageUser(content=format_results(text)))
    return out


class InspectProvider:
    """A ``fuzzer.agents.loop`` provider on an Inspect ``Model``.

    No response cache of ours runs here (Inspect has its own, ``--cache-prompt`` / ``cache``), so
    ``build_request`` may hold Inspect objects. Inspect retries failed calls itself, so
    ``classify`` never asks the loop to retry.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.spec = f"inspect:{model}"
        self.messages: list[ChatMessage] = []
        self.output: ModelOutput | None = None

    def build_request(self, system: str, turns: Sequence[Turn], tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {"messages": chat_messages(system, turns), "tools": [tool_info(t) for t in tools]}

    async def send(self, request: dict[str, Any], *, stream: bool) -> Reply:
        output = await self.model.generate(request["messages"], tools=request["tools"])
        self.output = output
        self.messages = [*request["messages"], output.message]
        calls = tuple(ToolCall(c.id, c.function, c.arguments, True) for c in output.message.tool_calls or ())
        u = output.usage
        usage = {} if u is None else {
            "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_input_tokens": u.input_tokens_cache_read or 0,
            "cache_creation_input_tokens": u.input_tokens_cache_write or 0,
        }
        stop = _STOP.get(output.stop_reason, "end_turn") if not calls else "tool_use"
        return Reply(output.message.text, calls, stop, usage)

    def classify(self, exc: BaseException) -> Transient | None:
        return None

    async def aclose(self) -> None:
        return None


@solver
def scenario_agent(max_turns: int = 6) -> Solver:
    """Our tool loop on the sample's scenario, through the eval's model."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        scenario = parse_scenario(state.metadata["scenario"])
        provider = InspectProvider(get_model())
        agent = ToolLoopAgent(provider, AgentOptions(max_turns=max_turns, max_retries=0, cache=None))
        transcript = await agent.act(scenario, render(scenario), int(state.metadata.get("sample", 0)))
        if provider.messages:
            state.messages = provider.messages
        if provider.output is not None:
            state.output = provider.output
        state.store.set(STORE_KEY, transcript.to_dict())
        return state

    return solve


@scorer(metrics=[harm_rate(), ci95_low(), ci95_high()])
def scenario_oracles(oracle: str = "rules", harms: str | None = None, judge_model: str | None = None) -> Any:
    """Our oracles on the transcript the solver left (rules by default: offline, no key)."""
    from oracles import DEFAULT_JUDGE_MODEL, build_oracle

    built = build_oracle(oracle, harms=harms, judge_model=judge_model or DEFAULT_JUDGE_MODEL)

    async def score(state: TaskState, target: Target) -> Score:
        data = state.store.get(STORE_KEY)
        if data is None:
            raise RuntimeError("the scenario_agent solver left no transcript (use it as the task's solver)")
        transcript = parse_transcript(data)
        verdict = await built(parse_scenario(state.metadata["scenario"]), transcript)
        if verdict.category == "error":
            # Not evaluated is not harmless: let Inspect count the sample as an error.
            raise RuntimeError(verdict.note or transcript.error or "the sample could not be evaluated")
        return verdict_score(verdict)

    return score


def corpus_dataset(corpus: str | os.PathLike[str], samples: int = 1) -> MemoryDataset:
    """``samples`` Inspect samples per corpus file below ``corpus`` (a folder or one file)."""
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise ValueError(f"samples={samples!r} must be an integer >= 1")
    out = []
    files = list(iter_corpus([corpus]))
    if not files:
        raise ValueError(f"{corpus}: no scenario files")
    for path in files:
        scenario = load_scenario(path)
        prompt = render(scenario)
        meta = {"scenario": scenario.to_dict(), "scenario_id": scenario.id, "path": str(path),
                "title": scenario.title, "conditions": scenario.conditions()}
        for k in range(samples):
            out.append(Sample(id=f"{scenario.id}-{k}", input=prompt.user, target="not harmful",
                              metadata={**meta, "sample": k}))
    return MemoryDataset(out, name=str(corpus))


def corpus_task(corpus: str = "corpus", samples: int = 1, oracle: str = "rules", harms: str | None = None,
                judge_model: str | None = None, max_turns: int = 6) -> Task:
    """The ``corpus`` task (registered by ``scenario_fuzzer._registry``)."""
    return Task(
        dataset=corpus_dataset(corpus, int(samples)),
        solver=scenario_agent(max_turns=int(max_turns)),
        scorer=scenario_oracles(oracle=oracle, harms=harms, judge_model=judge_model),
    )
