"""The math domain: calculator-annotated worked solutions, rule-based slips, verification by
execution, and the `#### n` answer line.

Stages over one batch, each with one job and its own books: parse the reference solution
into a program, inject one error of each requested type, verify the injection
independently of the injector, then correct it (fix & continue, fresh & restart) and keep
the mistake only when both corrections verify. `correct_natural` runs the last stage on a
mistake that was found rather than made (a teacher's located first wrong step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from errata.generators.domains.base import BatchResult, Domain, LLMSettings, StageConfig
from errata.generators.mistakes.corrections import fix_continue, fresh_restart
from errata.generators.mistakes.draft import Draft
from errata.generators.mistakes.inject import (
    RULE_ERROR_TYPES,
    Injection,
    InjectionFailed,
    explain,
    inject,
)
from errata.generators.mistakes.reflections import pick_reflection
from errata.generators.rendering import answer_instruction, render_text
from errata.generators.solutions import (
    Program,
    SolutionParseError,
    parse_program,
    render_answer,
)
from errata.generators.spans import edit_between
from errata.generators.stages import BatchContext
from errata.generators.verify.injections import correction_problem, injection_problem
from errata.schemas.ids import content_hash, item_seed
from errata.schemas.records import Correction, Mistake, Problem

PRODUCER = "errata-rules/1"
STAGES = ("parse", "inject", "verify_injection", "correct")
PROMPTS = {
    "solve": (
        "Solve the math problem step by step. If you notice a mistake, say so and correct it."
    ),
    "find_mistake": (
        "Below is a math question and a solution that contains a mistake. Find the first "
        "incorrect step, explain why it is wrong, and write the corrected solution from that "
        "step on."
    ),
}


@dataclass(frozen=True)
class Candidate:
    problem: Problem
    program: Program
    injection: Injection
    seed: int
    item_id: str


def parse_stage(problems: Sequence[Problem], ctx: BatchContext) -> list[tuple[Problem, Program]]:
    kept = []
    with ctx.stage("parse", len(problems)) as books:
        for problem in problems:
            try:
                program = parse_program(problem.question, problem.reference_solution)
            except SolutionParseError as exc:
                ctx.reject(books, exc.reason, str(exc), problem.problem_id, problem.model_dump())
                continue
            kept.append((problem, program))
            books.n_out += 1
    return kept


def inject_stage(
    parsed: list[tuple[Problem, Program]], error_types: Sequence[str], seed: int, ctx: BatchContext
) -> list[Candidate]:
    kept = []
    with ctx.stage("inject", len(parsed) * len(error_types)) as books:
        for problem, program in parsed:
            for error_type in error_types:
                item_id = f"{problem.problem_id}/{error_type}"
                item = item_seed(seed, item_id)
                try:
                    injection = inject(program, error_type, item)
                except InjectionFailed as exc:
                    payload = {"problem_id": problem.problem_id, "error_type": error_type}
                    ctx.reject(books, exc.reason, str(exc), item_id, payload)
                    continue
                kept.append(Candidate(problem, program, injection, item, item_id))
                books.n_out += 1
    return kept


def verify_injection_stage(candidates: list[Candidate], ctx: BatchContext) -> list[Draft]:
    kept = []
    with ctx.stage("verify_injection", len(candidates)) as books:
        for candidate in candidates:
            reference = candidate.problem.reference_answer
            issue = injection_problem(candidate.program.steps, candidate.injection, reference)
            if issue:
                ctx.reject(books, *issue, candidate.item_id, _injection_payload(candidate))
                continue
            kept.append(_draft_of(candidate))
            books.n_out += 1
    return kept


def correct_stage(drafts: Sequence[Draft], run_id: str, ctx: BatchContext) -> list[Mistake]:
    kept: list[Mistake] = []
    seen: set[str] = set()
    with ctx.stage("correct", len(drafts)) as books:
        for draft in drafts:
            # Two samples of a problem can be the same text, and so make the same mistake.
            mistake_id = _mistake_id(draft)
            if mistake_id in seen:
                message = f"the same mistake as {mistake_id}, already kept"
                ctx.reject(
                    books, "duplicate_mistake", message, draft.item_id, _draft_payload(draft)
                )
                continue
            corrections = _verified_corrections(draft)
            if isinstance(corrections, tuple):
                ctx.reject(books, *corrections, draft.item_id, _draft_payload(draft))
                continue
            seen.add(mistake_id)
            kept.append(_mistake(draft, corrections, run_id))
            books.n_out += 1
    return kept


def _mistake_id(draft: Draft) -> str:
    return "m-" + content_hash(draft.problem.problem_id, draft.method, draft.wrong_steps)


def run_batch(
    problems: Sequence[Problem], config: StageConfig, run_id: str, endpoint: Any = None
) -> BatchResult:
    """Every math stage the config asks for over one batch of problems.

    Rules inject into the reference solutions; with LLM settings, attempts are sampled (or
    replayed), wrong ones go to the teacher, correct ones to the self-editor, and the model
    writes type-grounded wrong solutions. Every draft meets the same `correct` stage.
    """
    ctx = BatchContext(run_id=run_id)
    settings = config.llm
    drafts: list[Draft] = []
    if settings.rules:
        types = [t for t in config.error_types or RULE_ERROR_TYPES if t in RULE_ERROR_TYPES]
        parsed = parse_stage(problems, ctx)
        candidates = inject_stage(parsed, types, config.seed, ctx)
        drafts += verify_injection_stage(candidates, ctx)
    if settings == LLMSettings():
        mistakes = correct_stage(drafts, run_id, ctx)
        return BatchResult(mistakes=mistakes, rejects=ctx.rejects, counts=ctx.stage_counts())
    # Imported here: an offline run never loads the LLM client.
    from errata.generators.domains import math_llm
    from errata.generators.llm.requests import Usage

    if settings.uses_model and endpoint is None:
        raise ValueError("these LLM settings need an endpoint (--base-url)")
    spent = Usage()  # what the batch's requests cost, stage by stage
    attempts = []
    if settings.sampler == "llm":
        attempts = math_llm.sample_stage(problems, config, endpoint, spent, ctx)
    elif settings.sampler == "replay":
        attempts = math_llm.replay_stage(problems, settings, ctx)
    by_id = {p.problem_id: p for p in problems}
    if settings.teacher == "llm":
        drafts += math_llm.teacher_stage(attempts, by_id, config, endpoint, spent, ctx)
    if settings.injector in ("llm", "both"):
        if attempts:
            drafts += math_llm.self_edit_stage(attempts, by_id, config, endpoint, spent, ctx)
        drafts += math_llm.wrong_solution_stage(problems, config, endpoint, spent, ctx)
    mistakes = correct_stage(drafts, run_id, ctx)
    return BatchResult(
        mistakes=mistakes,
        rejects=ctx.rejects,
        counts=ctx.stage_counts(),
        attempts=attempts,
        usage=math_llm.usage_record(spent) if settings.uses_model else None,
    )


def correct_natural(drafts: Sequence[Draft], run_id: str) -> BatchResult:
    """Correct and verify found mistakes (the `correct` stage alone)."""
    ctx = BatchContext(run_id=run_id)
    valid = []
    with ctx.stage("locate", len(drafts)) as books:
        for draft in drafts:
            if not 0 <= draft.first_error_step < len(draft.wrong_steps):
                message = f"step {draft.first_error_step} of {len(draft.wrong_steps)} steps"
                ctx.reject(books, "no_such_step", message, draft.item_id, _draft_payload(draft))
                continue
            valid.append(draft)
            books.n_out += 1
    mistakes = correct_stage(valid, run_id, ctx)
    return BatchResult(mistakes=mistakes, rejects=ctx.rejects, counts=ctx.stage_counts())


def _draft_of(candidate: Candidate) -> Draft:
    injection = candidate.injection
    original = candidate.program.steps
    aligned = [s for i, s in enumerate(original) if i != injection.removed_step]
    original_step = aligned[injection.first_error_step]
    wrong_step = injection.wrong_steps[injection.first_error_step]
    return Draft(
        problem=candidate.problem,
        item_id=candidate.item_id,
        method=f"rule:{injection.error_type}",
        producer=PRODUCER,
        error_type=injection.error_type,
        first_error_step=injection.first_error_step,
        wrong_steps=injection.wrong_steps,
        wrong_answer=injection.wrong_answer,
        explanation=explain(injection, candidate.problem.reference_answer),
        reference_steps=original,
        seed=candidate.seed,
        edit=edit_between(original_step, wrong_step, candidate.seed),
        resume_step=injection.resume_step,
    )


def _verified_corrections(draft: Draft) -> list[Correction] | tuple[str, str]:
    """Both corrections, each verified; or the (reason, message) of the first that fails.

    A model that wrote its own correction (a teacher) is held to it: its steps from the first
    wrong step on, and its fresh solution; otherwise both come from the reference steps.
    """
    reflection = draft.reflection or pick_reflection(draft.seed)
    final_line = render_answer(draft.problem.reference_answer)
    core = (draft.wrong_steps, draft.first_error_step, draft.reference_steps, final_line)
    fix_from = draft.fix_steps
    restart_from = draft.restart_steps
    built = {
        "fix_continue": (
            fix_continue(*core, reflection, resume_step=draft.resume_step)
            if fix_from is None
            else fix_continue(
                draft.wrong_steps,
                draft.first_error_step,
                fix_from,
                final_line,
                reflection,
                resume_step=0,
            )
        ),
        "fresh_restart": (
            fresh_restart(*core, reflection)
            if restart_from is None
            else fresh_restart(
                draft.wrong_steps, draft.first_error_step, restart_from, final_line, reflection
            )
        ),
    }
    corrections = []
    for kind, (continuation, trajectory) in built.items():
        issue, final_answer = correction_problem(
            continuation, trajectory, draft.problem.reference_answer
        )
        if issue:
            return issue
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
    return corrections


def _mistake(draft: Draft, corrections: list[Correction], run_id: str) -> Mistake:
    problem = draft.problem
    return Mistake(
        mistake_id=_mistake_id(draft),
        problem_id=problem.problem_id,
        attempt_id=draft.attempt_id,
        source=problem.source,
        domain="math",
        origin=draft.origin or ("injected" if draft.edit is not None else "natural"),
        method=draft.method,
        producer=draft.producer,
        error_type=draft.error_type,
        first_error_step=draft.first_error_step,
        question=problem.question,
        reference_steps=draft.reference_steps,
        wrong_steps=draft.wrong_steps,
        reference_answer=problem.reference_answer,
        wrong_answer=draft.wrong_answer,
        explanation=draft.explanation,
        corrections=corrections,
        edit=draft.edit,
        run_id=run_id,
        prompt_version=draft.prompt_version,
        checker_first_error_step=draft.checker_first_error_step,
        checker_agrees=draft.checker_agrees,
    )


def _injection_payload(candidate: Candidate) -> dict[str, Any]:
    injection = candidate.injection
    return {
        "problem_id": candidate.problem.problem_id,
        "error_type": injection.error_type,
        "first_error_step": injection.first_error_step,
        "wrong_steps": injection.wrong_steps,
        "wrong_answer": injection.wrong_answer,
    }


def _draft_payload(draft: Draft) -> dict[str, Any]:
    return {
        "problem_id": draft.problem.problem_id,
        "attempt_id": draft.attempt_id,
        "method": draft.method,
        "error_type": draft.error_type,
        "first_error_step": draft.first_error_step,
        "wrong_steps": draft.wrong_steps,
        "wrong_answer": draft.wrong_answer,
    }


DOMAIN = Domain(
    name="math",
    error_types=RULE_ERROR_TYPES,
    stages=STAGES,
    run_batch=run_batch,
    render_answer=render_answer,
    render_text=render_text,
    answer_instruction=answer_instruction,
    prompts=PROMPTS,
)
