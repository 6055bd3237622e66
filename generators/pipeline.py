"""The offline math stages composed over one batch: parse, inject, verify, correct.

Each stage takes records, keeps some and writes the rest to `rejects` with a reason, and
keeps its own counts, so `n_in == n_out + n_rejected` holds per stage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from errata.generators.mistakes.corrections import explain, fix_continue, fresh_restart
from errata.generators.mistakes.inject import RULE_ERROR_TYPES, Injection, InjectionFailed, inject
from errata.generators.mistakes.reflections import pick_reflection
from errata.generators.solutions import Program, SolutionParseError, parse_program
from errata.generators.verify.injections import correction_problem, injection_problem
from errata.schemas.ids import content_hash, item_seed
from errata.schemas.records import Correction, Mistake, Problem, Reject, StageCount

PRODUCER = "errata-rules/1"
STAGES = ("parse", "inject", "verify_injection", "correct")


@dataclass(frozen=True)
class MathConfig:
    """What defines the mistakes a batch produces (hashed into shard names)."""

    seed: int = 0
    error_types: tuple[str, ...] = RULE_ERROR_TYPES


@dataclass
class BatchContext:
    run_id: str
    config: MathConfig
    rejects: list[Reject] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=dict)  # stage -> [in, out, rejected]

    def count(self, stage: str, n_in: int, n_out: int) -> None:
        totals = self.counts.setdefault(stage, [0, 0, 0])
        totals[0] += n_in
        totals[1] += n_out
        totals[2] += n_in - n_out

    def reject(self, stage: str, reason: str, message: str, item_id: str, payload: Any) -> None:
        self.rejects.append(
            Reject(
                reject_id="r-" + content_hash(stage, reason, item_id, self.run_id),
                stage=stage,
                reason=reason,
                message=message,
                item_id=item_id,
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
                run_id=self.run_id,
            )
        )

    def stage_counts(self) -> list[StageCount]:
        return [
            StageCount(stage=s, n_in=c[0], n_out=c[1], n_rejected=c[2])
            for s, c in self.counts.items()
        ]


@dataclass(frozen=True)
class Candidate:
    problem: Problem
    program: Program
    injection: Injection
    seed: int
    item_id: str


@dataclass
class BatchResult:
    mistakes: list[Mistake]
    rejects: list[Reject]
    counts: list[StageCount]


def parse_stage(problems: Sequence[Problem], ctx: BatchContext) -> list[tuple[Problem, Program]]:
    kept = []
    for problem in problems:
        try:
            kept.append((problem, parse_program(problem.question, problem.reference_solution)))
        except SolutionParseError as exc:
            ctx.reject("parse", exc.reason, str(exc), problem.problem_id, problem.model_dump())
    ctx.count("parse", len(problems), len(kept))
    return kept


def inject_stage(parsed: list[tuple[Problem, Program]], ctx: BatchContext) -> list[Candidate]:
    kept, attempted = [], 0
    for problem, program in parsed:
        for error_type in ctx.config.error_types:
            attempted += 1
            item_id = f"{problem.problem_id}/{error_type}"
            seed = item_seed(ctx.config.seed, item_id)
            try:
                injection = inject(program, error_type, seed)
            except InjectionFailed as exc:
                payload = {"problem_id": problem.problem_id, "error_type": error_type}
                ctx.reject("inject", exc.reason, str(exc), item_id, payload)
                continue
            kept.append(Candidate(problem, program, injection, seed, item_id))
    ctx.count("inject", attempted, len(kept))
    return kept


def verify_injection_stage(candidates: list[Candidate], ctx: BatchContext) -> list[Candidate]:
    kept = []
    for candidate in candidates:
        reference = candidate.problem.reference_answer
        issue = injection_problem(candidate.program.steps, candidate.injection, reference)
        if issue:
            ctx.reject("verify_injection", *issue, candidate.item_id, _payload(candidate))
        else:
            kept.append(candidate)
    ctx.count("verify_injection", len(candidates), len(kept))
    return kept


def correct_stage(candidates: list[Candidate], ctx: BatchContext) -> list[Mistake]:
    kept = []
    for candidate in candidates:
        mistake = _with_corrections(candidate, ctx)
        if mistake is not None:
            kept.append(mistake)
    ctx.count("correct", len(candidates), len(kept))
    return kept


def _with_corrections(candidate: Candidate, ctx: BatchContext) -> Mistake | None:
    problem, injection = candidate.problem, candidate.injection
    original = candidate.program.steps
    answer = candidate.program.answer_text
    reflection = pick_reflection(candidate.seed)
    corrections = []
    for kind, build in (("fix_continue", fix_continue), ("fresh_restart", fresh_restart)):
        continuation, trajectory = build(injection, original, answer, reflection)
        issue, final_answer = correction_problem(continuation, trajectory, problem.reference_answer)
        if issue:
            ctx.reject("correct", *issue, candidate.item_id, _payload(candidate))
            return None
        corrections.append(
            Correction(
                kind=kind,
                reflection=reflection,
                continuation=continuation,
                trajectory=trajectory,
                final_answer=final_answer,
                verdict="correct",
            )
        )
    aligned = [s for i, s in enumerate(original) if i != injection.removed_step]
    original_step = aligned[injection.error_step]
    wrong_step = injection.wrong_steps[injection.error_step]
    edit = _edit_span(original_step, wrong_step)
    method = f"rule:{injection.error_type}"
    return Mistake(
        mistake_id="m-" + content_hash(problem.problem_id, method, injection.wrong_steps),
        problem_id=problem.problem_id,
        source=problem.source,
        origin="injected",
        method=method,
        error_type=injection.error_type,
        error_step=injection.error_step,
        question=problem.question,
        original_steps=original,
        wrong_steps=injection.wrong_steps,
        original_step=original_step,
        wrong_step=wrong_step,
        edit_start=edit[0],
        edit_end=edit[1],
        wrong_edit_start=edit[0],
        wrong_edit_end=edit[2],
        reference_answer=problem.reference_answer,
        wrong_answer=injection.wrong_answer,
        explanation=explain(injection, problem.reference_answer),
        corrections=corrections,
        producer=PRODUCER,
        seed=candidate.seed,
        run_id=ctx.run_id,
    )


def _edit_span(before: str, after: str) -> tuple[int, int, int]:
    """(start, end in before, end in after) of the smallest span that differs."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    tail = 0
    while (
        tail < min(len(before), len(after)) - start
        and before[len(before) - 1 - tail] == after[len(after) - 1 - tail]
    ):
        tail += 1
    return start, len(before) - tail, len(after) - tail


def _payload(candidate: Candidate) -> dict[str, Any]:
    injection = candidate.injection
    return {
        "problem_id": candidate.problem.problem_id,
        "error_type": injection.error_type,
        "error_step": injection.error_step,
        "wrong_steps": injection.wrong_steps,
        "wrong_answer": injection.wrong_answer,
    }


def run_math_batch(problems: Sequence[Problem], config: MathConfig, run_id: str) -> BatchResult:
    """All offline math stages over one batch of problems."""
    ctx = BatchContext(run_id=run_id, config=config)
    parsed = parse_stage(problems, ctx)
    candidates = inject_stage(parsed, ctx)
    verified = verify_injection_stage(candidates, ctx)
    mistakes = correct_stage(verified, ctx)
    return BatchResult(mistakes=mistakes, rejects=ctx.rejects, counts=ctx.stage_counts())
