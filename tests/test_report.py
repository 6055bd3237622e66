"""The run report: facts from a real GSM8K run and a hand-made store, their Markdown and
table, PNG charts, the dataset card's links to them, and the HTML page's highlighted edits."""

from __future__ import annotations

import hashlib
import html
import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from errata.flows.batches import generate_locally
from errata.flows.export import export
from errata.schemas.records import (
    Attempt,
    BatchBooks,
    Edit,
    LLMUsage,
    Mistake,
    Problem,
    ReasonCount,
    Run,
    StageCount,
)
from errata.store.card import card_body
from errata.store.catalog import query
from errata.store.export import read_manifest
from errata.store.report import (
    CARD_CHARTS,
    REPORT_FILES,
    chart_pngs,
    facts_markdown,
    facts_table,
    run_facts,
    sample_mistakes,
    write_charts,
    write_report,
)
from errata.store.shards import write_records
from tests.conftest import GSM8K_TEST

# --- a real run ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gsm8k_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("report") / "shards"
    summary = generate_locally(
        workers=1, source="gsm8k", path=str(GSM8K_TEST), limit=30, shards=str(root)
    )
    return root, summary


def test_facts_of_a_real_run_match_its_books_and_the_store(gsm8k_store) -> None:
    root, summary = gsm8k_store
    facts = run_facts(root)
    assert facts["run_id"] == summary["run_id"]
    assert [(s["stage"], s["in"], s["kept"], s["rejected"]) for s in facts["stages"]] == [
        (c["stage"], c["n_in"], c["n_out"], c["n_rejected"]) for c in summary["counts"]
    ]
    [(mistakes,)] = query(root, "select count(*) from mistakes")[1]
    assert facts["mistakes"] == mistakes == summary["mistakes_written"] > 0
    assert sum(facts["error_types"].values()) == mistakes
    assert facts["origins"] == {"injected": mistakes}
    assert facts["problems"] == 30
    rejected = {(r["stage"], r["reason"]): r["n"] for r in facts["rejects"]}
    for stage in facts["stages"]:
        assert sum(n for (s, _), n in rejected.items() if s == stage["stage"]) == stage["rejected"]
    verify = next(s for s in facts["stages"] if s["stage"] == "verify_injection")
    assert facts["verification"]["injections_verified"] == {
        "in": verify["in"],
        "verified": verify["kept"],
        "rate": round(verify["kept"] / verify["in"], 4),
    }
    assert facts["verification"]["attempts_by_verdict"] == {}  # no sampler in a rules run
    assert facts["llm_usage"]["requests"] == 0
    assert [(g["run_id"], g["problems"], g["mistakes"]) for g in facts["growth"]] == [
        (summary["run_id"], 30, mistakes)
    ]


def test_markdown_and_table_state_the_books(gsm8k_store) -> None:
    facts = run_facts(gsm8k_store[0])
    table = facts_table(facts)
    assert [row["stage"] for row in table] == [s["stage"] for s in facts["stages"]]
    inject = next(row for row in table if row["stage"] == "inject")
    assert inject["top_reject_reasons"].startswith(facts["rejects"][0]["reason"])
    assert set(inject) >= {"in", "kept", "rejected", "seconds", "kept_share"}
    markdown = facts_markdown(facts)
    assert f"# errata run `{facts['run_id']}`" in markdown
    for heading in ("## Stages", "## Rejects by stage and reason", "## Verification"):
        assert heading in markdown
    top_type, n = next(iter(facts["error_types"].items()))
    assert f"| {top_type} | {n} |" in markdown
    assert "injected candidates verified" in markdown


def test_charts_are_pngs_of_a_fixed_size_and_the_same_bytes_each_time(gsm8k_store, tmp_path):
    facts = run_facts(gsm8k_store[0])
    paths = write_charts(facts, tmp_path / "charts")
    assert [p.name for p in paths] == ["errors.png", "stages.png", "growth.png"]
    for path in paths:
        with Image.open(path) as image:
            image.load()
            assert image.format == "PNG"
            assert image.size == (700, 400)
            assert len(image.convert("L").getcolors()) > 10  # drawn on, not blank
    assert {p.name: p.read_bytes() for p in paths} == chart_pngs(facts)


def test_the_html_marks_the_edited_span_of_a_known_row(gsm8k_store, tmp_path) -> None:
    root, _ = gsm8k_store
    report = write_report(root, tmp_path / "export", sample_rows=20)
    page = report.read_text(encoding="utf-8")
    facts = run_facts(root)
    known = next(
        m
        for m in sample_mistakes(root, facts["run_id"], 20)
        if m["edit"]["wrong_end"] > m["edit"]["wrong_start"]
    )
    edit = known["edit"]
    wrong_step = known["wrong_steps"][known["first_error_step"]]
    article = _article(page, known["mistake_id"])
    marks = [html.unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", article, re.S)]
    assert marks == [
        edit["original_step"][edit["original_start"] : edit["original_end"]],
        wrong_step[edit["wrong_start"] : edit["wrong_end"]],
    ]
    assert html.escape(known["question"]) in article
    assert page.count('<article class="mistake"') == 20
    assert page.count('src="data:image/png;base64,') == 3
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # opens with no network
    assert sorted(p.relative_to(tmp_path / "export").as_posix() for p in _files(report.parent)) == (
        sorted(REPORT_FILES)
    )


def test_export_writes_the_report_lists_it_and_the_card_links_the_charts(gsm8k_store, tmp_path):
    root, _ = gsm8k_store
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second, second):  # a fresh folder, and a rerun into one
        export(["lemma", "kto"], shards=str(root), out=str(out))
    card = (first / "README.md").read_text(encoding="utf-8")
    assert "## Run report" in card
    assert "![error types](_errata/charts/errors.png)" in card
    for _, path in CARD_CHARTS:
        assert f"]({path})" in card and (first / path).is_file()
    manifest = read_manifest(first)
    assert set(REPORT_FILES) <= set(manifest["meta_files"])
    assert manifest["stale"] == []
    assert _digests(first) == _digests(second)


def test_the_card_has_no_report_section_without_charts() -> None:
    from errata.schemas.exports import CardFacts

    facts = CardFacts(
        title="t",
        configs=[],
        licenses={},
        problems_per_source={},
        mistakes_per_source={},
        mistakes_per_error_type={},
        mistakes_per_origin={},
        stage_counts={},
        excluded={},
        options={},
    )
    assert "Run report" not in card_body(facts)
    assert "\n\n## Citations" in card_body(facts)
    with_charts = card_body(facts, CARD_CHARTS)
    assert "![growth over nights](_errata/charts/growth.png)\n\n## Citations" in with_charts


# --- a hand-made store: a teacher, LLM usage, reruns, an unfinished run -------------------------


def _problem(i: int) -> Problem:
    return Problem(
        problem_id=f"p-{i}",
        source="toy",
        source_id=str(i),
        split="test",
        domain="math",
        question=f"What is {i} + {i}? <b>bold</b>",
        reference_solution=f"{i} + {i} = {2 * i}",
        reference_answer=str(2 * i),
        license="MIT",
    )


def _mistake(i: int, run_id: str, teacher: bool = False) -> Mistake:
    core: dict[str, Any] = {
        "mistake_id": f"m-{run_id}-{i}",
        "problem_id": f"p-{i}",
        "source": "toy",
        "domain": "math",
        "question": f"What is {i} + {i}? <b>bold</b>",
        "reference_steps": [f"{i} + {i} = {2 * i}"],
        "reference_answer": str(2 * i),
        "explanation": "x",
        "corrections": [],
        "run_id": run_id,
        "first_error_step": 0,
    }
    if teacher:
        return Mistake(
            **core,
            origin="natural",
            method="llm:m",
            producer="teacher:m",
            error_type="calculation",
            wrong_steps=[f"{i} + {i} = {2 * i + 1} <oops>"],
            wrong_answer=str(2 * i + 1),
            checker_first_error_step=None if i % 2 else 0,
            checker_agrees=bool(i % 2 == 0),
        )
    wrong = f"{i} + {i} = {2 * i + 1}"
    right = f"{i} + {i} = {2 * i}"
    start = len(f"{i} + {i} = ")
    return Mistake(
        **core,
        origin="injected",
        method="rule:calculation",
        producer="rules",
        error_type="wrong_operator",
        wrong_steps=[wrong],
        wrong_answer=str(2 * i + 1),
        edit=Edit(
            original_step=right,
            original_start=start,
            original_end=len(right),
            wrong_start=start,
            wrong_end=len(wrong),
            seed=i,
        ),
    )


def _counts(n: int) -> list[StageCount]:
    return [
        StageCount(stage="source", n_in=n, n_out=n, n_rejected=0),
        StageCount(
            stage="inject",
            n_in=n + 2,
            n_out=n,
            n_rejected=2,
            rejected_by_reason=[ReasonCount(reason="no_site", n=2)],
            seconds=0.5,
        ),
    ]


def _run(run_id: str, invocation: str, started_at: str, n: int) -> Run:
    return Run(
        run_id=run_id,
        invocation_id=invocation,
        flow="generate",
        parameters="{}",
        started_at=started_at,
        finished_at=started_at,
        wall_seconds=1.5,
        batches_total=1,
        batches_skipped=0,
        counts=_counts(n),
        errata_version="0",
    )


def _batch(root: Path, run_id: str, batch: str, problems: range, usage: LLMUsage | None) -> None:
    write_records(
        root,
        "batches",
        run_id,
        batch,
        [
            BatchBooks(
                batch=batch,
                run_id=run_id,
                domain="math",
                n_problems=len(problems),
                counts=_counts(len(problems))[1:],
                llm_usage=usage,
            )
        ],
    )
    write_records(root, "problems", "src", batch, [_problem(i) for i in problems])


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toy") / "shards"
    root = root
    usage = LLMUsage(requests=3, cached=1, prompt_tokens=100, completion_tokens=40, cost_usd=0.25)
    # Night 1: run-a over problems 0-3; night 2: run-a again (a no-op rerun), then run-b.
    _batch(root, "run-a", "00000-a", range(4), None)
    write_records(root, "mistakes", "run-a", "00000-a", [_mistake(i, "run-a") for i in range(4)])
    _batch(root, "run-b", "00000-b", range(2, 6), usage)
    mistakes_b = [_mistake(i, "run-b", teacher=True) for i in range(2, 6)]
    write_records(root, "mistakes", "run-b", "00000-b", mistakes_b)
    attempts = [
        Attempt(
            attempt_id=f"a-{i}",
            problem_id=f"p-{i}",
            producer="llm:m",
            steps=["s"],
            text="s",
            final_answer="1",
            verdict="correct" if i < 3 else "incorrect",
            run_id="run-b",
        )
        for i in range(2, 6)
    ]
    write_records(root, "attempts", "run-b", "00000-b", attempts)
    runs = [
        _run("run-a", "i1", "2026-01-01T02:00:00+00:00", 4),
        _run("run-a", "i2", "2026-01-02T02:00:00+00:00", 4),
        _run("run-b", "i3", "2026-01-02T03:00:00+00:00", 4),
    ]
    for run in runs:
        write_records(root, "runs", run.run_id, run.invocation_id, [run])
    # run-c was killed: batch books and mistakes, no run record.
    _batch(root, "run-c", "00000-c", range(6, 8), None)
    write_records(root, "mistakes", "run-c", "00000-c", [_mistake(i, "run-c") for i in (6, 7)])
    return root


def test_growth_counts_each_run_once_and_problems_shared_by_runs_once(toy_store) -> None:
    growth = run_facts(toy_store)["growth"]
    assert [(g["invocation_id"], g["problems"], g["mistakes"]) for g in growth] == [
        ("i1", 4, 4),
        ("i2", 4, 4),  # the rerun added nothing
        ("i3", 6, 8),  # problems 2 and 3 were in run-a already
    ]


def test_latest_run_with_usage_verdicts_and_teacher_rows(toy_store, tmp_path) -> None:
    facts = run_facts(toy_store)
    assert facts["run_id"] == "run-b"
    assert facts["llm_usage"] == {
        "requests": 3,
        "cached": 1,
        "failed": 0,
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "cost_usd": 0.25,
    }
    assert facts["verification"]["attempts_by_verdict"] == {"correct": 1, "incorrect": 3}
    assert facts["origins"] == {"natural": 4}
    assert "attempts incorrect | 3 of 4 (75.0%)" in facts_markdown(facts)
    page = write_report(toy_store, tmp_path / "out").read_text(encoding="utf-8")
    assert "<mark>" not in page  # teacher rows carry no edit
    assert "&lt;oops&gt;" in page and "<oops>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert page.count('class="agree">agrees') == 2  # p-2, p-4
    assert page.count('class="disagree">disagrees') == 2
    assert "first wrong step: none proven wrong" in page


def test_an_earlier_run_by_id_and_a_run_that_never_finished(toy_store) -> None:
    earlier = run_facts(toy_store, "run-a")
    assert earlier["invocations"] == 2 and earlier["wall_seconds_total"] == 3.0
    assert earlier["origins"] == {"injected": 4}
    killed = run_facts(toy_store, "run-c")
    assert killed["invocations"] == 0 and killed["problems"] == 2 and killed["mistakes"] == 2
    assert [s["stage"] for s in killed["stages"]] == ["source", "inject"]
    with pytest.raises(ValueError, match="no run 'run-z'"):
        run_facts(toy_store, "run-z")


def _article(page: str, mistake_id: str) -> str:
    [article] = [a for a in page.split("<article")[1:] if f"<code>{mistake_id}</code>" in a]
    return article


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(_files(root))
    }


def test_chart_bytes_do_not_depend_on_the_process(gsm8k_store) -> None:
    # Same facts, fresh figures: no counter, timestamp or id may leak into the bytes.
    facts = run_facts(gsm8k_store[0])
    first = chart_pngs(facts)
    assert chart_pngs(facts) == first
    assert Image.open(io.BytesIO(first["growth.png"])).info.get("Software") is None
