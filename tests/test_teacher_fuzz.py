"""1,000 malformed teacher replies: none may crash `teacher_draft`, each is a Rejection."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from errata.generators.mistakes.teacher import Rejection, TeacherReply, teacher_draft
from errata.generators.sources.gsm8k import gsm8k_problem
from errata.schemas.ids import canonical_json
from errata.schemas.records import Attempt, Problem
from tests.test_teacher import good_reply, structured

MODEL = "fuzz-teacher"
CASES = 1000
FIELDS = list(TeacherReply.model_fields)
# Values that no lax coercion turns into the field's type.
NOT_AN_INT = ["one", [1], {"step": 1}, None, 1.5, "", "1st"]
NOT_A_STR = [5, 2.5, ["a"], {"text": "a"}, None, True]
NOT_A_STR_LIST = ["just text", 7, [1, 2], [None], {"steps": []}, None, [["nested"]]]
WRONG_ANSWERS = ["26", "17", "-18", "1e99999", "9" * 5000, "18/0", "\\frac{", "NaN", "∞", ""]


def _problem_and_attempt() -> tuple[Problem, Attempt]:
    row = {
        "question": "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every "
        "morning and bakes muffins for her friends every day with four. She sells the "
        "remainder at the farmers' market daily for $2 per fresh duck egg. How much in "
        "dollars does she make every day at the farmers' market?",
        "answer": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
        "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\n#### 18",
    }
    problem = gsm8k_problem(row, 0, "test", {})
    attempt = Attempt(
        attempt_id="a-fuzz",
        problem_id=problem.problem_id,
        producer="gsm8k-6b",
        steps=[
            "Janet eats 3 ducks eggs for breakfast every morning and she sells the rest so "
            "she has 16 - 3 = <<16-3=13>>13 ducks eggs left",
            "She has 13 ducks eggs and she sells 2 each day so she makes 13 * 2 = $<<13*2=26>>26",
        ],
        text="...",
        final_answer="26",
        verdict="incorrect",
        run_id="r-fuzz",
    )
    return problem, attempt


PROBLEM, ATTEMPT = _problem_and_attempt()


def _good() -> dict:
    return json.loads(good_reply())


def _random_text(rng: random.Random) -> str:
    alphabet = 'abc{}[]":,0123456789 \n\t\\é漢🙂\x00\x7f'
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 200)))


def _truncated(rng: random.Random) -> str:
    text = good_reply()
    return text[: rng.randrange(0, len(text) - 1)]


def _wrong_type(rng: random.Random) -> str:
    reply = _good()
    field = rng.choice(FIELDS)
    if field == "first_error_step":
        reply[field] = rng.choice(NOT_AN_INT)
    elif field in ("corrected_steps", "fresh_solution"):
        reply[field] = rng.choice(NOT_A_STR_LIST)
    else:
        reply[field] = rng.choice(NOT_A_STR)
    return json.dumps(reply)


def _missing_fields(rng: random.Random) -> str:
    reply = _good()
    for field in rng.sample(FIELDS, rng.randrange(1, len(FIELDS) + 1)):
        del reply[field]
    return json.dumps(reply)


def _extra_field(rng: random.Random) -> str:
    return json.dumps(_good() | {rng.choice(["notes", "step", "confidence"]): rng.random()})


def _step_out_of_range(rng: random.Random) -> str:
    step = rng.choice([0, -1, 3, 4, 10**6, -(10**40), 10**40])
    return json.dumps(_good() | {"first_error_step": step})


def _unknown_error_type(rng: random.Random) -> str:
    kind = rng.choice(["arithmetic", "Calculation", "", "calculation ", "other", "none"])
    return json.dumps(_good() | {"error_type": kind})


def _wrong_answer(rng: random.Random) -> str:
    return json.dumps(_good() | {"final_answer": rng.choice(WRONG_ANSWERS)})


def _empty_steps(rng: random.Random) -> str:
    field = rng.choice(["corrected_steps", "fresh_solution"])
    empty = rng.choice([[], [""], ["   ", "\n"], ["#### 18"], ["The answer is 18."]])
    return json.dumps(_good() | {field: empty})


def _lone_surrogate(rng: random.Random) -> str:
    # As raw text (what a broken decoder would hand over) or as a JSON escape.
    if rng.random() < 0.5:
        return good_reply().replace("Wait", "W\udc80ait")
    return good_reply().replace("Wait", "W\\ud800ait")


def _not_an_object(rng: random.Random) -> str:
    return rng.choice(["[]", "null", "18", '"18"', "[" + good_reply() + "]", "{}", ""])


def _huge(rng: random.Random) -> str:
    reply = _good()
    reply["explanation"] = "x" * rng.randrange(10_000, 50_000)
    reply["final_answer"] = "1" + "0" * rng.randrange(400, 5000)
    return json.dumps(reply)


MUTATORS: list[Callable[[random.Random], str]] = [
    _random_text,
    _truncated,
    _wrong_type,
    _missing_fields,
    _extra_field,
    _step_out_of_range,
    _unknown_error_type,
    _wrong_answer,
    _empty_steps,
    _lone_surrogate,
    _not_an_object,
    _huge,
]


def _assert_rejected(raw: str | None) -> Rejection:
    outcome = teacher_draft(PROBLEM, ATTEMPT, structured(raw, TeacherReply), MODEL)
    assert isinstance(outcome, Rejection), (raw, outcome)
    assert outcome.reason and isinstance(outcome.reason, str)
    canonical_json(outcome.payload).encode("utf-8")  # a reject must be storable
    return outcome


def test_the_unmutated_reply_is_kept() -> None:
    outcome = teacher_draft(PROBLEM, ATTEMPT, structured(good_reply(), TeacherReply), MODEL)
    assert not isinstance(outcome, Rejection), outcome


def test_a_thousand_malformed_replies_are_rejected_without_a_crash() -> None:
    rng = random.Random(20240611)
    started = time.monotonic()
    reasons: Counter[str] = Counter()
    for case in range(CASES):
        raw = MUTATORS[case % len(MUTATORS)](rng)
        reasons[_assert_rejected(raw).reason] += 1
    assert time.monotonic() - started < 15
    assert sum(reasons.values()) == CASES
    # Every layer was reached, not just the JSON parser.
    assert {"invalid_json", "schema_mismatch", "no_such_step", "teacher_answer_wrong"} <= set(
        reasons
    )


def test_no_reply_at_all_is_rejected() -> None:
    assert _assert_rejected(None).reason == "empty"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from([*FIELDS, "x"]), children, max_size=8)
        ),
        max_leaves=20,
    )
)
def test_arbitrary_json_is_rejected(value) -> None:
    _assert_rejected(json.dumps(value))
