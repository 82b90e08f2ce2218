"""``replay:PATH`` — answer with recorded transcripts instead of a model.

PATH is one transcript YAML file or a folder searched recursively for them (hidden entries and
scenario files skipped). The choice rule, deterministic:

1. transcripts recorded for this scenario id: the one with the requested ``sample`` number if there
   is one, else the ``sample % n``-th of them, ordered by (sample, file path);
2. otherwise the transcripts that carry no scenario id, chosen the same way (so a folder of
   unlabelled transcripts replays round-robin over all of them);
3. otherwise the sample is an error ("no recorded transcript for scenario ...").

The returned transcript keeps the recorded model, actions, text, usage and ``simulated`` flag; its
``scenario`` and ``sample`` are set to the ones asked for. No model requests are made.
"""

from __future__ import annotations

from pathlib import Path

from fuzzer.agents.base import AgentStats
from fuzzer.corpus import load_transcript, read_yaml, yaml_files
from fuzzer.errors import CorpusError, SpecError
from fuzzer.render import Prompt
from fuzzer.scenario import SCHEMA, Scenario
from fuzzer.transcript import TRANSCRIPT_SCHEMA, Transcript


class ReplayAgent:
    simulated = False

    def __init__(self, path: str, transcripts: list[tuple[str, Transcript]]) -> None:
        self.spec = f"replay:{path}"
        self.stats = AgentStats()
        self.by_scenario: dict[str | None, list[Transcript]] = {}
        for _, t in sorted(transcripts, key=lambda pt: (pt[1].sample, pt[0])):
            self.by_scenario.setdefault(t.scenario, []).append(t)

    def pick(self, scenario_id: str, sample: int) -> Transcript | None:
        pool = self.by_scenario.get(scenario_id) or self.by_scenario.get(None)
        if not pool:
            return None
        exact = [t for t in pool if t.sample == sample]
        return exact[0] if exact else pool[sample % len(pool)]

    async def act(self, scenario: Scenario, prompt: Prompt, sample: int) -> Transcript:
        t = self.pick(scenario.id, sample)
        if t is None:
            self.stats.errors += 1
            return Transcript(model=self.spec, sample=sample, scenario=scenario.id, stop_reason="error",
                              error=f"{self.spec}: no recorded transcript for scenario {scenario.id}")
        return Transcript(model=t.model, sample=sample, actions=t.actions, final_text=t.final_text,
                          scenario=scenario.id, error=t.error, stop_reason=t.stop_reason,
                          simulated=t.simulated, usage=t.usage)

    async def aclose(self) -> None:
        return None


def make_replay_agent(path: str) -> ReplayAgent:
    if not path.strip():
        raise SpecError("replay: needs a transcript file or folder, e.g. replay:transcripts/")
    root = Path(path)
    if not root.exists():
        raise SpecError(f"replay:{path}: no such file or folder")
    files = [root] if root.is_file() else list(yaml_files(root))
    found: list[tuple[str, Transcript]] = []
    for f in files:
        try:
            data = read_yaml(f)
            if root.is_dir() and not _looks_like_transcript(data):
                continue
            found.append((str(f), load_transcript(f, data)))
        except CorpusError as exc:
            raise SpecError(f"replay:{path}: {exc}") from None
    if not found:
        raise SpecError(f"replay:{path}: holds no transcripts")
    return ReplayAgent(path, found)


def _looks_like_transcript(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    schema = data.get("schema")
    if schema == SCHEMA:
        return False
    return schema == TRANSCRIPT_SCHEMA or ("actions" in data and "model" in data)
