from __future__ import annotations

import typing
from fractions import Fraction

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from errata.generators.verify.arithmetic import (
    ArithmeticError_,
    claim_holds,
    evaluate,
    parse_number,
)
from errata.schemas.arrow import arrow_schema, to_arrow
from errata.schemas.ids import content_hash, item_seed, problem_id
from errata.schemas.records import SCHEMA_VERSION, TABLES, Correction, Mistake, Problem, StageCount


@pytest.mark.parametrize("table", sorted(TABLES))
def test_arrow_schema_matches_pydantic_fields(table: str) -> None:
    model = TABLES[table]
    schema = arrow_schema(model)
    assert schema.names == list(model.model_fields)
    assert schema.metadata == {b"errata.schema_version": SCHEMA_VERSION.encode()}
    for name, info in model.model_fields.items():
        nullable = schema.field(name).nullable
        assert nullable == (type(None) in typing.get_args(info.annotation)), name


def test_nested_records_become_structs() -> None:
    corrections = arrow_schema(Mistake).field("corrections").type
    assert pa.types.is_list(corrections)
    assert [f.name for f in corrections.value_type] == list(Correction.model_fields)
    counts = TABLES["runs"].model_fields["counts"]
    assert counts.annotation == list[StageCount]


def test_to_arrow_roundtrips_a_problem() -> None:
    problem = Problem(
        problem_id=problem_id("gsm8k", "test-00001"),
        source="gsm8k",
        source_id="test-00001",
        split="test",
        domain="math",
        question="q",
        reference_solution="s\n#### 1",
        reference_answer="1",
        license="MIT",
    )
    table = to_arrow([problem], Problem)
    assert Problem(**table.to_pylist()[0]) == problem
    assert to_arrow([], Problem).num_rows == 0


def test_records_reject_unknown_fields_and_bad_domains() -> None:
    with pytest.raises(ValidationError):
        Problem(
            problem_id="p",
            source="s",
            source_id="1",
            split="t",
            domain="poetry",
            question="q",
            reference_solution="s",
            reference_answer="1",
            license="MIT",
        )


def test_ids_are_stable_content_hashes() -> None:
    assert problem_id("gsm8k", "test-00001") == problem_id("gsm8k", "test-00001")
    assert problem_id("gsm8k", "test-00001") != problem_id("gsm8k", "test-00002")
    assert content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1})
    assert item_seed(0, "x") == item_seed(0, "x") != item_seed(1, "x")


@pytest.mark.parametrize(
    ("expr", "value"),
    [("48/2", 24), ("80,000+50,000", 130000), ("2 x 3", 6), ("5 × 4 ÷ 2", 10),
     ("20%*50", 10), (".5*8", 4), ("2^3", 8), ("-3+5", 2), ("(1+2)*3", 9)],
)  # fmt: skip
def test_evaluate_written_arithmetic(expr: str, value: int) -> None:
    assert evaluate(expr) == value


@pytest.mark.parametrize("expr", ["__import__('os')", "a+1", "2**1000", "1/0", "[1]", ""])
def test_evaluate_refuses_anything_but_arithmetic(expr: str) -> None:
    with pytest.raises(ArithmeticError_):
        evaluate(expr)


def test_claims_allow_rounding_to_the_shown_places() -> None:
    assert claim_holds(Fraction(10, 3), Fraction("3.33"), "3.33")
    assert claim_holds(Fraction(10, 3), Fraction(3), "3")
    assert not claim_holds(Fraction(10, 3), Fraction("3.5"), "3.5")
    assert not claim_holds(Fraction(24), Fraction(25), "25")
    assert parse_number("$1,200.50") == Fraction("1200.5")
    assert claim_holds(Fraction(-169, 18), Fraction("-9.38"), "-9.38")  # truncated toward zero
    assert claim_holds(Fraction(99), Fraction("99.00000000000001"), "99.00000000000001")


@given(st.integers(-10_000, 10_000), st.integers(1, 10_000), st.sampled_from("+-*/"))
def test_evaluate_agrees_with_fractions(a: int, b: int, op: str) -> None:
    expected = {
        "+": Fraction(a) + b,
        "-": Fraction(a) - b,
        "*": Fraction(a) * b,
        "/": Fraction(a, b),
    }[op]
    assert evaluate(f"{a} {op} {b}") == expected
