"""What a domain provides, and the result of running its stages over a batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from errata.generators.rendering import RenderOptions
from errata.schemas.records import Attempt, LLMUsage, Mistake, Reject, StageCount

SAMPLERS: tuple[str, ...] = ("none", "llm", "replay")
TEACHERS: tuple[str, ...] = ("none", "llm")
INJECTORS: tuple[str, ...] = ("rules", "llm", "both")


@dataclass(frozen=True)
class LLMSettings:
    """What decides the LLM-made records of a run (part of its identity).

    How requests reach the model (endpoint, concurrency, limits, cache) is not here: a run
    resumed against another server with other limits is the same run.
    """

    sampler: str = "none"  # none | llm | replay
    teacher: str = "none"  # none | llm
    injector: str = "rules"  # rules | llm (self-edit + type-grounded wrong solutions) | both
    model: str | None = None
    samples: int = 4  # per problem, llm sampler
    temperature: float = 0.8
    max_tokens: int = 1024
    replay: str | None = None  # file of solutions sampled elsewhere
    replay_fields: tuple[tuple[str, str], ...] = ()
    prompts: tuple[tuple[str, str], ...] = ()  # (name, version) of every prompt in use

    @property
    def uses_model(self) -> bool:
        return self.sampler == "llm" or self.teacher == "llm" or self.injector != "rules"

    @property
    def rules(self) -> bool:
        return self.injector in ("rules", "both")


@dataclass(frozen=True)
class StageConfig:
    """What defines the mistakes a batch produces (hashed into the run's identity).

    `error_types` None means every rule of each domain.
    """

    seed: int = 0
    error_types: tuple[str, ...] | None = None
    llm: LLMSettings = LLMSettings()

    def identity(self) -> dict[str, Any]:
        """The fields that name a run; an offline run is named as before LLM stages existed."""
        fields = asdict(self)
        if self.llm == LLMSettings():
            fields.pop("llm")
        return fields


@dataclass
class BatchResult:
    mistakes: list[Mistake] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    counts: list[StageCount] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    usage: LLMUsage | None = None

    @classmethod
    def merge(cls, results: Sequence[BatchResult]) -> BatchResult:
        merged = cls()
        for result in results:
            merged.mistakes.extend(result.mistakes)
            merged.rejects.extend(result.rejects)
            merged.counts.extend(result.counts)
            merged.attempts.extend(result.attempts)
            merged.usage = add_usage(merged.usage, result.usage)
        return merged


def add_usage(a: LLMUsage | None, b: LLMUsage | None) -> LLMUsage | None:
    """The sum of two usages; None only when both are (no LLM stage ran)."""
    if a is None or b is None:
        return a or b
    return LLMUsage(
        requests=a.requests + b.requests,
        cached=a.cached + b.cached,
        failed=a.failed + b.failed,
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        cost_usd=round(a.cost_usd + b.cost_usd, 10),
    )


@dataclass(frozen=True)
class Domain:
    """A domain's plug-in surface: its name, the error types it has rules for, the stages
    over a batch, how a solution's final answer is written in the store and rendered for
    training, and its prompts."""

    name: str
    error_types: tuple[str, ...]
    stages: tuple[str, ...]
    # (problems, config, run_id, endpoint): the endpoint (an errata.generators.llm Endpoint)
    # only when the config asks for a model.
    run_batch: Callable[..., BatchResult]
    render_answer: Callable[[str], str]
    render_text: Callable[[str, RenderOptions], str]
    answer_instruction: Callable[[RenderOptions], str]
    prompts: Mapping[str, str]

    def render_solution(self, steps: Sequence[str], answer: str) -> str:
        return "\n".join([*steps, self.render_answer(answer)])
