"""Export selection steps: splits, dedupe, decontamination, per-problem caps."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errata.generators.recipes.select import (
    Contamination,
    Excluded,
    assign_split,
    decontaminate,
    dedupe,
    limit_per_problem,
    question_ngrams,
    row_key,
)
from tests.conftest import GSM8K_TEST

Row = dict[str, Any]


def _row(problem: str, mistake: str | None, text: str, **extra: Any) -> Row:
    return {
        "problem_id": problem,
        "mistake_id": mistake,
        "source": "gsm8k",
        "origin": "injected",
        "error_type": "calculation",
        "prompt": text,
        "steps": [{"text": text, "n": 1}],
        **extra,
    }


# --- splits ---------------------------------------------------------------------------------


def test_split_pinned_values_are_stable_across_runs_and_machines() -> None:
    # sha256-based, so these never change with PYTHONHASHSEED, platform or row order.
    ids = [f"p-{i}" for i in range(8)]
    assert [assign_split(p, 0, 0.5) for p in ids] == [
        *("test", "test", "test", "test", "train", "train", "train", "test")
    ]
    assert [assign_split(p, 1, 0.5) for p in ids] == [
        *("train", "test", "train", "test", "test", "test", "train", "train")
    ]


def test_split_is_independent_of_order() -> None:
    ids = [f"p-{i}" for i in range(500)]
    forward = {p: assign_split(p, 7, 0.2) for p in ids}
    shuffled = ids[:]
    random.Random(3).shuffle(shuffled)
    assert {p: assign_split(p, 7, 0.2) for p in shuffled} == forward


def test_no_problem_lands_in_two_splits() -> None:
    rows = [_row(f"p-{i % 300}", f"m-{i}", f"text {i}") for i in range(3000)]
    random.Random(1).shuffle(rows)
    splits: dict[str, set[str]] = {}
    for row in rows:
        splits.setdefault(row["problem_id"], set()).add(assign_split(row["problem_id"], 0, 0.3))
    assert all(len(s) == 1 for s in splits.values())
    assert {next(iter(s)) for s in splits.values()} == {"train", "test"}


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.5])
def test_split_fraction_is_roughly_honoured(fraction: float) -> None:
    splits = Counter(assign_split(f"p-{i:05d}", 0, fraction) for i in range(10_000))
    assert abs(splits["test"] / 10_000 - fraction) < 0.02


def test_split_edges() -> None:
    assert {assign_split(f"p-{i}", 0, 0.0) for i in range(1000)} == {"train"}
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="test_fraction"):
            assign_split("p-1", 0, bad)


# --- row_key and dedupe ---------------------------------------------------------------------


def test_row_key_ignores_lineage_and_split_but_not_content() -> None:
    a = _row("p-1", "m-1", "same text", split="train")
    b = {
        **a,
        "problem_id": "p-2",
        "mistake_id": None,
        "source": "x",
        "origin": "natural",
        "error_type": None,
        "split": "test",
    }
    assert row_key(a) == row_key(b)
    assert row_key(a) != row_key(_row("p-1", "m-1", "other text"))
    assert row_key(a) != row_key({**a, "extra": 0})
    assert row_key({**a, "x": 1}) != row_key({**a, "x": 1.5})


def test_dedupe_different_lineage_same_content_is_duplicate() -> None:
    rows = [
        _row("p-2", "m-9", "teach this"),
        _row("p-1", "m-5", "teach this", origin="natural"),
        _row("p-1", "m-6", "something else"),
    ]
    kept, excluded = dedupe("cfg", rows)
    assert [(r["problem_id"], r["mistake_id"]) for r in kept] == [("p-1", "m-5"), ("p-1", "m-6")]
    assert excluded == [
        Excluded(
            config="cfg",
            step="dedupe",
            reason="duplicate_row",
            detail=excluded[0].detail,
            problem_id="p-2",
            mistake_id="m-9",
        )
    ]
    assert "p-1" in excluded[0].detail and "m-5" in excluded[0].detail


def test_dedupe_output_is_sorted_and_handles_missing_mistake_id() -> None:
    rows = [_row("p-2", None, "a"), _row("p-1", "m-2", "b"), _row("p-1", None, "c")]
    kept, excluded = dedupe("cfg", rows)
    assert not excluded
    assert [(r["problem_id"], r["mistake_id"]) for r in kept] == [
        ("p-1", None),
        ("p-1", "m-2"),
        ("p-2", None),
    ]


_pool = [
    _row("p-1", "m-1", "alpha"),
    _row("p-1", "m-2", "alpha"),
    _row("p-1", "m-2", "alpha", origin="natural"),  # ties on (problem, mistake, key)
    _row("p-2", "m-1", "alpha"),
    _row("p-2", None, "beta"),
    _row("p-3", "m-3", "beta", split="test"),
    _row("p-3", "m-3", "gamma", split="train"),
    _row("p-4", "m-4", "delta"),
]


@given(
    st.lists(st.sampled_from(_pool), min_size=1, max_size=20).flatmap(
        lambda rows: st.tuples(st.just(rows), st.permutations(rows))
    )
)
def test_dedupe_is_independent_of_input_order(pair: tuple[list[Row], list[Row]]) -> None:
    rows, permuted = pair
    kept, excluded = dedupe("cfg", rows)
    assert dedupe("cfg", list(permuted)) == (kept, excluded)
    assert len(kept) + len(excluded) == len(rows)
    assert len({row_key(r) for r in kept}) == len(kept) == len({row_key(r) for r in rows})


# --- n-grams --------------------------------------------------------------------------------

_SENTENCE = "the quick brown fox jumps over the lazy dog while seven ducks lay eggs daily"
_WORDS = _SENTENCE.split()


def test_ngrams_ignore_case_punctuation_whitespace_and_width() -> None:
    plain = "Janet has 16 eggs, and she eats 3 of them every single morning before work today"
    noisy = (
        "JANET  has 16 eggs... and she\neats 3 of them -- every single morning (before work) today!"
    )
    assert question_ngrams(plain, 13) == question_ngrams(noisy, 13)
    # NFKC folds full-width digits and letters.
    assert question_ngrams("Ｊａｎｅｔ has １６ eggs", 3) == question_ngrams("janet has 16 eggs", 3)
    assert len(question_ngrams(plain, 13)) == 16 - 13 + 1


def test_twelve_word_overlap_does_not_match_at_13_but_thirteen_does() -> None:
    shared13 = _WORDS[:13]
    benchmark = "alpha beta gamma " + " ".join(shared13) + " delta epsilon"
    index = Contamination([benchmark], n=13)
    twelve = "zulu yankee " + " ".join(shared13[:12]) + " xray whiskey victor uniform tango"
    thirteen = "zulu yankee " + " ".join(shared13) + " xray"
    assert index.match(twelve) is None
    assert index.match(thirteen) == tuple(shared13)
    assert index.match(thirteen.upper().replace(" ", " ,  ")) == tuple(shared13)


def test_short_questions_match_only_as_a_whole() -> None:
    assert question_ngrams("What is 2 + 2?", 13) == {("what", "is", "2", "2")}
    assert question_ngrams("", 13) == set()
    assert question_ngrams("?!", 13) == set()
    index = Contamination(["What is 2 + 2?", "", "a b c d e f g h i j k l m n o"], n=13)
    assert index.n_questions == 3 and index.n == 13
    assert index.match("what is 2+2") == ("what", "is", "2", "2")
    assert index.match("Tell me: what is 2 + 2 exactly?") is None  # contains, isn't equal
    assert index.match("") is None
    assert index.match("a b c") is None


def test_match_returns_first_shared_ngram_in_text_order() -> None:
    index = Contamination(["one two three", "four five six"], n=3)
    assert index.match("four five six one two three") == ("four", "five", "six")


# --- decontaminate --------------------------------------------------------------------------


def test_decontaminate_drops_only_train_rows() -> None:
    bench = "A farmer has 20 cows and sells 4 of them at the market each week for 3 weeks"
    index = Contamination([bench])
    questions = {"p-bad": bench.lower() + " How many are left?", "p-ok": "Unrelated question."}
    rows = [
        _row("p-bad", "m-1", "x", split="train"),
        _row("p-bad", "m-2", "y", split="test"),
        _row("p-ok", "m-3", "z", split="train"),
        _row("p-bad", "m-4", "w", split="train"),
        _row("p-bad", "m-5", "v"),  # no split: treated like train
    ]
    kept, excluded = decontaminate("cfg", rows, questions, index)
    assert [r["mistake_id"] for r in kept] == ["m-2", "m-3"]
    assert [e.mistake_id for e in excluded] == ["m-1", "m-4", "m-5"]
    assert {(e.step, e.reason, e.config, e.problem_id) for e in excluded} == {
        ("decontaminate", "ngram_overlap", "cfg", "p-bad")
    }
    assert "a farmer has 20 cows" in excluded[0].detail


def test_decontaminate_without_index_keeps_all_and_caches_per_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [_row(f"p-{i % 3}", f"m-{i}", str(i), split="train") for i in range(30)]
    questions = {f"p-{i}": f"question {i}" for i in range(3)}
    assert decontaminate("cfg", rows, questions, None) == (rows, [])

    index = Contamination(["question 1"])
    calls = Counter[str]()
    real = index.match

    def counting(question: str) -> tuple[str, ...] | None:
        calls[question] += 1
        return real(question)

    monkeypatch.setattr(index, "match", counting)
    kept, excluded = decontaminate("cfg", rows, questions, index)
    assert len(kept) == 20 and len(excluded) == 10
    assert set(calls.values()) == {1}

    with pytest.raises(KeyError, match="p-9"):
        decontaminate("cfg", [_row("p-9", None, "x", split="train")], questions, index)


# --- from_files -----------------------------------------------------------------------------


def test_from_files_reads_jsonl_json_and_parquet(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"question": "one two three"}\n\n{"problem": "four five six"}\n')
    array = tmp_path / "b.json"
    array.write_text(json.dumps([{"prompt": "seven eight nine", "answer": 1}]))
    table = tmp_path / "c.parquet"
    pq.write_table(pa.table({"problem": ["ten eleven twelve"], "other": [1]}), table)
    index = Contamination.from_files([jsonl, array, table], n=3)
    assert index.n_questions == 4
    for text in ("one two three", "four five six", "seven eight nine", "ten eleven twelve"):
        assert index.match(text) == tuple(text.split())
    custom = tmp_path / "d.jsonl"
    custom.write_text('{"text": "alpha beta gamma", "question": "ignored words here"}\n')
    assert Contamination.from_files([custom], n=3, field="text").match("alpha beta gamma")


def test_from_files_errors_name_file_and_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        Contamination.from_files([missing])

    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"question": "fine"}\n{"question": oops}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl: line 2: not valid JSON") as info:
        Contamination.from_files([bad_json])
    assert "expected one JSON object per line" in str(info.value)

    no_field = tmp_path / "nofield.jsonl"
    no_field.write_text('{"question": "fine"}\n\n{"answer": "42"}\n')
    with pytest.raises(ValueError, match=r"nofield\.jsonl: line 3: expected .*'question'"):
        Contamination.from_files([no_field])

    not_str = tmp_path / "notstr.jsonl"
    not_str.write_text('{"question": 5}\n')
    with pytest.raises(ValueError, match=r"notstr\.jsonl: line 1: field 'question' is int"):
        Contamination.from_files([not_str])

    bad_item = tmp_path / "arr.json"
    bad_item.write_text(json.dumps([{"question": "ok"}, "just a string"]))
    with pytest.raises(ValueError, match=r"arr\.json: item 2: expected"):
        Contamination.from_files([bad_item])

    no_column = tmp_path / "t.parquet"
    pq.write_table(pa.table({"answer": ["1"]}), no_column)
    with pytest.raises(ValueError, match=r"t\.parquet: no column question"):
        Contamination.from_files([no_column])

    with pytest.raises(ValueError, match="unsupported"):
        Contamination.from_files([_touch(tmp_path / "x.csv")])


def _touch(path: Path) -> Path:
    path.write_text("")
    return path


# --- the real GSM8K test set ----------------------------------------------------------------


def test_every_gsm8k_test_question_matches_itself(gsm8k_rows: list[dict]) -> None:
    index = Contamination.from_files([GSM8K_TEST])
    assert index.n_questions == len(gsm8k_rows) == 1319
    for row in gsm8k_rows:
        assert index.match(row["question"]) is not None, row["question"]
    # Reformatted copies (case, punctuation, spacing) still match.
    first = gsm8k_rows[0]["question"]
    assert index.match(" ".join(first.upper().replace(",", " ;").split())) is not None


def test_made_up_questions_do_not_match_gsm8k(gsm8k_rows: list[dict]) -> None:
    index = Contamination.from_files([GSM8K_TEST])
    made_up = [
        "A lighthouse keeper polishes 14 lenses every night and 3 of them crack each month. "
        "How many lenses remain intact after a year if he starts with 200?",
        "Priya bakes 9 trays of dumplings with 24 dumplings per tray and gives away a third. "
        "How many dumplings does she keep for the festival?",
        "What is 7 times 8?",
        "",
    ]
    assert [index.match(q) for q in made_up] == [None] * len(made_up)


# --- limit_per_problem ----------------------------------------------------------------------


def _problem_rows(counts: dict[str, int]) -> list[Row]:
    return [_row(p, f"{p}/m-{i}", f"{p} text {i}") for p, c in counts.items() for i in range(c)]


@pytest.mark.parametrize("limit", [0, 1, 2, 5])
def test_limit_keeps_min_of_limit_and_count_in_input_order(limit: int) -> None:
    counts = {"p-a": 1, "p-b": 2, "p-c": 7, "p-d": 12}
    rows = _problem_rows(counts)
    random.Random(5).shuffle(rows)
    kept, excluded = limit_per_problem("cfg", rows, limit, seed=0)
    assert Counter(r["problem_id"] for r in kept) == {
        p: min(limit, c) for p, c in counts.items() if min(limit, c)
    }
    assert len(kept) + len(excluded) == len(rows)
    positions = {id(r): i for i, r in enumerate(rows)}
    assert [positions[id(r)] for r in kept] == sorted(positions[id(r)] for r in kept)
    assert {(e.step, e.reason) for e in excluded} <= {("max_per_problem", "over_limit")}


def test_limit_none_keeps_all_and_negative_is_rejected() -> None:
    rows = _problem_rows({"p-a": 5})
    assert limit_per_problem("cfg", rows, None, seed=0) == (rows, [])
    with pytest.raises(ValueError):
        limit_per_problem("cfg", rows, -1, seed=0)


def test_limit_choice_depends_on_seed() -> None:
    rows = _problem_rows({"p-a": 40})
    picks = {
        frozenset(r["mistake_id"] for r in limit_per_problem("cfg", rows, 3, seed=s)[0])
        for s in range(5)
    }
    assert len(picks) > 1


@settings(max_examples=50)
@given(
    st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 8), min_size=1),
    st.integers(0, 4),
    st.integers(0, 3),
    st.randoms(use_true_random=False),
)
def test_limit_is_independent_of_order(
    counts: dict[str, int], limit: int, seed: int, rnd: random.Random
) -> None:
    rows = _problem_rows(counts)
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    kept, excluded = limit_per_problem("cfg", rows, limit, seed)
    kept2, excluded2 = limit_per_problem("cfg", shuffled, limit, seed)
    assert sorted(r["mistake_id"] for r in kept) == sorted(r["mistake_id"] for r in kept2)
    assert sorted(map(repr, excluded)) == sorted(map(repr, excluded2))
