"""What a domain provides, and the result of running its stages over a batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from errata.generators.rendering import RenderOptions
from errata.schemas.records import Mistake, Problem, Reject, StageCount


@dataclass(frozen=True)
class StageConfig:
    """What defines the mistakes a batch produces (hashed into the run's identity).

    `error_types` None means every rule of each domain.
    """

    seed: int = 0
    error_types: tuple[str, ...] | None = None


@dataclass
class BatchResult:
    mistakes: list[Mistake] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    counts: list[StageCount] = field(default_factory=list)

    @classmethod
    def merge(cls, results: Sequence[BatchResult]) -> BatchResult:
        merged = cls()
        for result in results:
            merged.mistakes.extend(result.mistakes)
            merged.rejects.extend(result.rejects)
            merged.counts.extend(result.counts)
        return merged


@dataclass(frozen=True)
class Domain:
    """A domain's plug-in surface: its name, the error types it has rules for, the stages
    over a batch, how a solution's final answer is written in the store and rendered for
    training, and its prompts."""

    name: str
    error_types: tuple[str, ...]
    stages: tuple[str, ...]
    run_batch: Callable[[Sequence[Problem], StageConfig, str], BatchResult]
    render_answer: Callable[[str], str]
    render_text: Callable[[str, RenderOptions], str]
    answer_instruction: Callable[[RenderOptions], str]
    prompts: Mapping[str, str]

    def render_solution(self, steps: Sequence[str], answer: str) -> str:
        return "\n".join([*steps, self.render_answer(answer)])
