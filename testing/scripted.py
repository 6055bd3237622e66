"""Scripted replies for the OpenAI test double: fixtures, not a model.

`build_fixtures` renders the exact requests errata's LLM stages send for some GSM8K problems
and scripts a reply to each that a test double can give deterministically:

* solve: the real model solutions of the question from an example-solutions file (several
  models, right and wrong), so the double's `seed % len` picks among them;
* teacher: for each attempt errata finds wrong, a reply naming the first wrong step (the step
  checker's, else the first step whose numbers leave the reference's) and correcting it from
  the GSM8K reference;
* self-edit: for each attempt errata finds correct, the rule injector's edit of the step and
  kind errata picks; where the injector has no such edit, the step unchanged (which errata
  rejects, as it should);
* wrong solution: the rule injector on the reference solution for the requested error type.

Which attempts come out wrong or correct is errata's own verification of the scripted
samples, so the teacher and self-edit requests are the ones a run will send.

    python -m errata.testing.scripted --problems tests/fixtures/gsm8k/test.jsonl \\
        --solutions tests/fixtures/gsm8k/example_model_solutions.jsonl --limit 10 \\
        --model errata-double --out fixtures.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from errata.generators.domains.base import LLMSettings
from errata.generators.domains.math_llm import STAGE_PROMPTS
from errata.generators.domains.math_llm import structured_params as structured_request_params
from errata.generators.mistakes.inject import RULES, InjectionFailed, explain, inject
from errata.generators.mistakes.reflections import pick_reflection
from errata.generators.mistakes.self_edit import (
    SelfEditReply,
    edit_seed,
    pick_edit,
    self_edit_request,
)
from errata.generators.mistakes.teacher import TeacherReply, teacher_request
from errata.generators.mistakes.wrong_solution import (
    WrongSolutionReply,
    requested_error_type,
    wrong_solution_requests,
)
from errata.generators.prompt_files import load_prompt
from errata.generators.sampling.attempts import verify_attempts
from errata.generators.sampling.llm import sample_requests, sampled_input
from errata.generators.solutions import (
    ANNOTATION_RE,
    SolutionParseError,
    parse_program,
    render_answer,
    split_steps,
)
from errata.generators.sources.gsm8k import load_gsm8k
from errata.generators.verify.arithmetic import NUMBER_RE, parse_number
from errata.generators.verify.injections import injection_problem
from errata.schemas.ids import item_seed
from errata.schemas.records import MATH_ERROR_TYPES, Attempt, Problem
from errata.testing.openai_double import fixture_key, write_fixtures

# The model keys of OpenAI's example GSM8K solutions file, in a fixed order.
SOLUTION_MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
# The rule that makes each self-edit kind; a kind without one (a misreading in words) is
# left to fail honestly.
KIND_RULES = {
    "change_value": "calculation",
    "change_related_values": "misread_question",
    "wrong_substitution": "wrong_substitution",
    "delete_term": "deleted_term",
    "change_operator": "wrong_operator",
    "swap_terms": "swapped_operands",
}
# Seeds to try before giving up on landing an injection in the chosen step.
INJECTION_TRIES = 24
_ANSWER_LINE_RE = re.compile(r"^\s*A:\s*(.+?)\s*$")

Fixtures = list[tuple[str, list[str]]]


def solve_reply(solution: str) -> str:
    """A solution from the examples file (`A: 18` last) in the solve prompt's `#### 18` form."""
    lines = solution.strip().splitlines()
    if lines and (match := _ANSWER_LINE_RE.match(lines[-1])):
        lines[-1] = render_answer(match.group(1))
    return "\n".join(lines)


def solutions_by_question(path: str | Path) -> dict[str, dict[str, Any]]:
    """Rows of an example-solutions JSONL file, by their question text."""
    rows = [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line]
    return {row["question"].strip(): row for row in rows}


def build_fixtures(
    problems: Sequence[Problem],
    solutions: Mapping[str, Mapping[str, Any]],
    model: str,
    samples: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    structured_params: dict[str, Any],
    error_types: Sequence[str] = MATH_ERROR_TYPES,
    run_id: str = "scripted",
) -> Fixtures:
    """(key, replies) for every request a run with these settings sends for `problems`.

    The arguments are the run's: sampling `temperature`, `max_tokens` and run `seed`, the
    params of its structured (teacher, self-edit, wrong-solution) requests, and its error
    types. Problems without example solutions get no sampling fixtures.
    """
    fixtures: dict[str, list[str]] = {}

    def add(messages: list[dict[str, str]], replies: list[str]) -> None:
        fixtures.setdefault(fixture_key(messages), replies)  # same prompt, same reply

    sampled, attempts = scripted_samples(
        problems, solutions, model, samples, temperature, max_tokens, seed, run_id
    )
    fixtures.update(sampled)
    by_id = {p.problem_id: p for p in problems}

    teacher = load_prompt(STAGE_PROMPTS["teacher"])
    for attempt in (a for a in attempts if a.verdict == "incorrect"):
        problem = by_id[attempt.problem_id]
        request = teacher_request(problem, attempt, model, structured_params, teacher)
        add(request.message_dicts(), [teacher_reply(problem, attempt).model_dump_json()])

    self_edit = load_prompt(STAGE_PROMPTS["self_edit"])
    for attempt in (a for a in attempts if a.verdict == "correct"):
        problem = by_id[attempt.problem_id]
        choice = pick_edit(attempt, edit_seed(seed, attempt))
        if choice is None:
            continue
        step, kind = choice
        request = self_edit_request(
            problem, attempt, step, kind, model, structured_params, self_edit
        )
        reply = self_edit_reply(problem, attempt, step, kind, item_seed(seed, request.key))
        add(request.message_dicts(), [reply.model_dump_json()])

    wrong_solution = load_prompt(STAGE_PROMPTS["wrong_solution"])
    for problem in problems:
        for request in wrong_solution_requests(
            problem, list(error_types), model, structured_params, wrong_solution, seed
        ):
            error_type = requested_error_type(request)
            reply = wrong_solution_reply(problem, error_type, item_seed(seed, request.key))
            add(request.message_dicts(), [reply.model_dump_json()])
    return list(fixtures.items())


def fixtures_for_run(
    problems: Sequence[Problem],
    solutions_path: str,
    settings: LLMSettings,
    seed: int = 0,
) -> Fixtures:
    """`build_fixtures` for a run with these LLM settings: its model, sampling and the params
    of its structured requests, so every request the run sends finds its fixture."""
    assert settings.model is not None
    return build_fixtures(
        problems,
        solutions_by_question(solutions_path),
        settings.model,
        settings.samples,
        settings.temperature,
        settings.max_tokens,
        seed,
        structured_request_params(settings),
    )


def scripted_samples(
    problems: Sequence[Problem],
    solutions: Mapping[str, Mapping[str, Any]],
    model: str,
    samples: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    run_id: str = "scripted",
) -> tuple[dict[str, list[str]], list[Attempt]]:
    """The solve fixtures, and the attempts errata makes of the replies the double picks."""
    solve = load_prompt(STAGE_PROMPTS["sample"])
    fixtures: dict[str, list[str]] = {}
    inputs = []
    for problem in problems:
        row = solutions.get(problem.question.strip())
        replies = [solve_reply(row[m]["solution"]) for m in SOLUTION_MODELS if row and m in row]
        if not replies:
            continue
        requests = sample_requests(problem, samples, model, temperature, max_tokens, seed, solve)
        fixtures[fixture_key(requests[0].message_dicts())] = replies
        for request in requests:
            answered = replies[dict(request.params)["seed"] % len(replies)]  # as the double does
            inputs.append(sampled_input(problem, request, answered))
    return fixtures, verify_attempts(inputs, run_id)


# --- teacher -----------------------------------------------------------------------------------


def teacher_reply(problem: Problem, attempt: Attempt) -> TeacherReply:
    """The teacher's scripted answer: where the attempt goes wrong, corrected from the
    reference (annotations removed, as a model writes)."""
    reference = [ANNOTATION_RE.sub("", s) for s in split_steps(problem.reference_solution)[0]]
    checker_step = attempt.first_error_step
    wrong = checker_step if checker_step is not None else first_departing_step(problem, attempt)
    if checker_step is not None:
        error_type, why = "calculation", "its arithmetic does not hold"
    else:
        error_type, why = (
            "question_misinterpretation",
            "it uses a quantity the question does not give",
        )
    return TeacherReply(
        first_error_step=wrong + 1,
        error_type=error_type,
        explanation=(
            f"Step {wrong + 1} is where the solution goes wrong: {why}, so the answer comes "
            f"out as {attempt.final_answer} instead of {problem.reference_answer}."
        ),
        corrected_steps=reference[min(wrong, len(reference) - 1) :],
        fresh_solution=reference,
        reflection=pick_reflection(item_seed(0, attempt.attempt_id)),
        final_answer=problem.reference_answer,
    )


def first_departing_step(problem: Problem, attempt: Attempt) -> int:
    """The first step that writes a number neither the question nor the reference solution
    has; the last step if none does."""
    known = _numbers(problem.question) | _numbers(problem.reference_solution)
    for index, step in enumerate(attempt.steps):
        if _numbers(ANNOTATION_RE.sub("", step)) - known:
            return index
    return max(len(attempt.steps) - 1, 0)


def _numbers(text: str) -> set:
    return {v for m in NUMBER_RE.finditer(text) if (v := parse_number(m.group(0))) is not None}


# --- self-edit ---------------------------------------------------------------------------------


def self_edit_reply(
    problem: Problem, attempt: Attempt, step: int, kind: str, seed: int
) -> SelfEditReply:
    """The rule injector's edit of `step` as a self-edit reply; the step unchanged when the
    injector has no edit of this kind there."""
    injection = _injection_at(problem, attempt, step, KIND_RULES.get(kind), seed)
    if injection is None:
        return SelfEditReply(
            edited_step=attempt.steps[step],
            continuation=attempt.steps[step + 1 :],
            final_answer=attempt.final_answer or "",
            explanation="No slip of this kind fits this step.",
        )
    return SelfEditReply(
        edited_step=injection.wrong_steps[step],
        continuation=injection.wrong_steps[step + 1 :],
        final_answer=injection.wrong_answer,
        explanation=explain(injection, problem.reference_answer),
    )


def _injection_at(problem: Problem, attempt: Attempt, step: int, rule: str | None, seed: int):
    """The first valid injection of `rule` whose error lands in `step`, or None."""
    if rule is None:
        return None
    try:
        program = parse_program(problem.question, attempt.text)
    except SolutionParseError:
        return None
    if program.steps != attempt.steps:
        return None  # the attempt's steps are not the program's lines: spans would not align
    for attempt_number in range(INJECTION_TRIES):
        try:
            injection = inject(program, rule, item_seed(seed, str(attempt_number)))
        except InjectionFailed as failure:
            if failure.reason == "no_site":
                return None  # no seed finds a site where the rule has none
            continue  # this seed's sites failed; another seed tries them in another order
        if (
            injection.removed_step is None
            and injection.first_error_step == step
            and injection_problem(program.steps, injection, problem.reference_answer) is None
        ):
            return injection
    return None


# --- LEMMA wrong solution ----------------------------------------------------------------------


def wrong_solution_reply(problem: Problem, error_type: str, seed: int) -> WrongSolutionReply:
    """The rule injector's mistake of `error_type` in the reference solution; where no rule
    makes one, the reference itself (its answer is right, so errata rejects it)."""
    reference = split_steps(problem.reference_solution)[0]
    injection = None
    if error_type in RULES:
        try:
            program = parse_program(problem.question, problem.reference_solution)
            injection = inject(program, error_type, seed)
        except (SolutionParseError, InjectionFailed):
            injection = None
        if injection and injection_problem(program.steps, injection, problem.reference_answer):
            injection = None
    if injection is None:
        return WrongSolutionReply(
            steps=reference,
            first_error_step=1,
            explanation="No error of this kind fits this solution.",
            wrong_final_answer=problem.reference_answer,
            corrected_steps=reference,
            reflection=pick_reflection(seed),
        )
    return WrongSolutionReply(
        steps=injection.wrong_steps,
        first_error_step=injection.first_error_step + 1,
        explanation=explain(injection, problem.reference_answer),
        wrong_final_answer=injection.wrong_answer,
        corrected_steps=reference[injection.resume_step :],
        reflection=pick_reflection(seed),
    )


# --- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m errata.testing.scripted",
        description="Write scripted test-double fixtures for GSM8K problems (not a model).",
    )
    parser.add_argument("--problems", required=True, help="GSM8K .jsonl (question, answer)")
    parser.add_argument("--split", default="test", help="split name the run gives the problems")
    parser.add_argument("--solutions", required=True, help="example model solutions .jsonl")
    parser.add_argument("--limit", type=int, default=None, help="first N problems")
    parser.add_argument("--model", default="errata-double")
    parser.add_argument("--out", required=True, help="fixtures .jsonl to write")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-tokens", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = LLMSettings(
        sampler="llm",
        teacher="llm",
        injector="both",
        model=args.model,
        samples=args.samples,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
    )
    problems = load_gsm8k(args.problems, args.split, limit=args.limit)
    fixtures = fixtures_for_run(problems, args.solutions, settings, args.seed)
    write_fixtures(args.out, fixtures)
    print(f"{len(fixtures)} fixtures for {len(problems)} problems -> {args.out}")


if __name__ == "__main__":
    main()
