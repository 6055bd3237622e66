"""What every recipe shares: settings, solution text, lineage and the output bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from errata.generators.domains import DOMAINS, Domain
from errata.generators.recipes.select import Excluded
from errata.generators.rendering import RenderOptions
from errata.schemas.exports import ExportRow, Message
from errata.schemas.records import Correction, Mistake


@dataclass(frozen=True)
class RecipeSettings:
    seed: int = 0
    retry_rate: float = 0.1  # chance that a correct step also gets a cheap retry
    render: RenderOptions = field(default_factory=RenderOptions)


@dataclass
class RecipeOutput:
    """Rows per export config, and the mistakes a config could not use, with the reason."""

    rows: dict[str, list[ExportRow]] = field(default_factory=dict)
    excluded: list[Excluded] = field(default_factory=list)

    def add(self, config: str, row: ExportRow) -> None:
        self.rows.setdefault(config, []).append(row)

    def exclude(self, config: str, reason: str, detail: str, mistake: Mistake) -> None:
        self.excluded.append(
            Excluded(
                config=config,
                step="recipe",
                reason=reason,
                detail=detail,
                problem_id=mistake.problem_id,
                mistake_id=mistake.mistake_id,
            )
        )


def mistake_lineage(mistake: Mistake) -> dict[str, Any]:
    return {
        "problem_id": mistake.problem_id,
        "mistake_id": mistake.mistake_id,
        "source": mistake.source,
        "origin": mistake.origin,
        "error_type": mistake.error_type,
    }


def solution_lineage(mistake: Mistake) -> dict[str, Any]:
    """Lineage of a row built from the correct solution alone: no mistake in it."""
    return {
        "problem_id": mistake.problem_id,
        "mistake_id": None,
        "source": mistake.source,
        "origin": None,
        "error_type": None,
    }


def correction(mistake: Mistake, kind: str) -> Correction | None:
    """The mistake's verified correction of this kind, if it has one."""
    for item in mistake.corrections:
        if item.kind == kind and item.verdict == "correct":
            return item
    return None


def domain_of(mistake: Mistake) -> Domain:
    return DOMAINS[mistake.domain]


def rendered(mistake: Mistake, text: str, settings: RecipeSettings) -> str:
    """Stored solution text as a training row carries it (see generators/rendering.py)."""
    return domain_of(mistake).render_text(text, settings.render)


def correct_solution(mistake: Mistake, settings: RecipeSettings) -> str | None:
    """The verified-correct full solution: the fresh & restart continuation."""
    restart = correction(mistake, "fresh_restart")
    return rendered(mistake, restart.continuation, settings) if restart else None


def wrong_solution(mistake: Mistake, settings: RecipeSettings) -> str:
    text = domain_of(mistake).render_solution(mistake.wrong_steps, mistake.wrong_answer)
    return rendered(mistake, text, settings)


def user(content: str) -> Message:
    return Message(role="user", content=content)


def assistant(content: str) -> Message:
    return Message(role="assistant", content=content)
