"""The run report: one run's facts as Markdown, a table, PNG charts and one static HTML page.

Plain functions over the shards (no Prefect): the generate flow turns the facts into Prefect
artifacts, and an export writes `_errata/report.html` beside the dataset. Every byte is a
function of the shards, so the same store reports to identical files.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from errata.generators.stages import sum_stage_counts
from errata.schemas.records import StageCount
from errata.store.catalog import connect, sql_string, table_glob
from errata.store.export import (
    META_DIR,
    export_lock,
    is_export,
    read_manifest,
    write_manifest,
    write_text,
)
from errata.store.shards import shard_files, write_atomically

REPORT = "report.html"
CHARTS_DIR = "charts"
# file name -> alt text; the names are fixed so the card can link them before they exist.
CHARTS: dict[str, str] = {
    "errors.png": "error types",
    "stages.png": "stage outcomes",
    "growth.png": "growth over nights",
}
CHART_PATHS: tuple[str, ...] = tuple(f"{META_DIR}/{CHARTS_DIR}/{name}" for name in CHARTS)
REPORT_FILES: tuple[str, ...] = (f"{META_DIR}/{REPORT}", *CHART_PATHS)
# (alt text, path in the export) of each chart, for the dataset card's image links.
CARD_CHARTS: tuple[tuple[str, str], ...] = tuple(zip(CHARTS.values(), CHART_PATHS, strict=True))

# Stage names whose kept share is a verification rate.
INJECTION_STAGE = "verify_injection"
CORRECTION_STAGE = "correct"
USAGE_FIELDS = ("requests", "cached", "failed", "prompt_tokens", "completion_tokens", "cost_usd")

# One size, dpi and font for every chart: PNG bytes then depend on the data alone.
CHART_SIZE = (7.0, 4.0)
CHART_DPI = 100
KEPT_COLOR, REJECTED_COLOR, LINE_COLORS = "#2b7bba", "#e8a33d", ("#2b7bba", "#c4453c")


# --- facts -----------------------------------------------------------------------------------


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[dict[str, Any]]:
    result = con.execute(sql, list(params))
    columns = [d[0] for d in result.description or []]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def _latest_run_id(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        "select run_id from runs order by started_at desc, finished_at desc, invocation_id desc "
        "limit 1"
    ).fetchall()
    # A store whose runs were all killed has batch books but no run record yet.
    rows = rows or con.execute("select max(run_id) from batches").fetchall()
    if not rows or rows[0][0] is None:
        raise ValueError("no run in this store: run `errata run` first")
    return rows[0][0]


def _unfinished_run(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """What a run with batch books but no run record (killed before its end) has done so far:
    its batches' books added up, each batch once, with a source stage of their problems."""
    batches = con.execute(
        "select distinct on (batch) batch, n_problems, counts from batches where run_id = ? "
        "order by batch",
        [run_id],
    ).fetchall()
    problems = sum(n for _, n, _ in batches)
    source = StageCount(stage="source", n_in=problems, n_out=problems, n_rejected=0)
    counts = [StageCount.model_validate(c) for _, _, books in batches for c in books]
    return {
        "started_at": None,
        "finished_at": None,
        "wall_seconds": 0.0,
        "batches_total": len(batches),
        "batches_skipped": 0,
        "parameters": "{}",
        "counts": [c.model_dump() for c in sum_stage_counts([source, *counts])],
    }


def _usage(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """What the run's batches spent on LLM requests, each batch counted once."""
    sums = ", ".join(f"coalesce(sum(llm_usage.{f}), 0) as {f}" for f in USAGE_FIELDS)
    try:
        [row] = _rows(
            con,
            f"select {sums} from (select distinct on (batch) batch, llm_usage from batches "
            "where run_id = ? order by batch)",
            run_id,
        )
    except duckdb.BinderException:  # a store written before LLM usage was recorded
        row = dict.fromkeys(USAGE_FIELDS, 0)
    return {**row, "cost_usd": round(float(row["cost_usd"]), 6)}


def _rate(counts: dict[str, dict[str, Any]], stage: str) -> dict[str, Any] | None:
    count = counts.get(stage)
    if count is None:
        return None
    rate = round(count["kept"] / count["in"], 4) if count["in"] else None
    return {"in": count["in"], "verified": count["kept"], "rate": rate}


def _growth(con: duckdb.DuckDBPyConnection, shards: Path) -> list[dict[str, Any]]:
    """Per finished invocation, in start order: distinct problems and mistakes in the store
    from every run finished by then (a resumed or repeated run adds nothing new)."""
    invocations = _rows(
        con,
        "select run_id, invocation_id, started_at from runs order by started_at, invocation_id",
    )
    # A problem belongs to the runs whose batches hold it: its shard is named after the batch.
    problems_by_run: dict[str, set[str]] = {}
    if shard_files(shards, "problems"):
        pattern = sql_string(table_glob(shards, "problems"))
        for run_id, problem_id in con.execute(
            "select distinct b.run_id, p.problem_id from read_parquet("
            f"{pattern}, filename=true, union_by_name=true) p "
            "join batches b on regexp_extract(p.filename, 'part-(.*)\\.parquet$', 1) = b.batch"
        ).fetchall():
            problems_by_run.setdefault(run_id, set()).add(problem_id)
    mistakes_by_run: dict[str, set[str]] = {}
    for run_id, mistake_id in con.execute("select run_id, mistake_id from mistakes").fetchall():
        mistakes_by_run.setdefault(run_id, set()).add(mistake_id)
    seen: set[str] = set()
    problems: set[str] = set()
    mistakes: set[str] = set()
    growth = []
    for invocation in invocations:
        run_id = invocation["run_id"]
        if run_id not in seen:
            seen.add(run_id)
            problems |= problems_by_run.get(run_id, set())
            mistakes |= mistakes_by_run.get(run_id, set())
        growth.append({**invocation, "problems": len(problems), "mistakes": len(mistakes)})
    return growth


def run_facts(shards: Path, run_id: str | None = None) -> dict[str, Any]:
    """The facts of one run (default: the latest started): its stages, rejects, verification
    rates, mistakes by error type and origin, LLM usage, wall time, and the store's growth."""
    con = connect(Path(shards))
    try:
        run_id = run_id or _latest_run_id(con)
        invocations = _rows(
            con,
            "select * from runs where run_id = ? "
            "order by started_at desc, finished_at desc, invocation_id desc",
            run_id,
        )
        if invocations:
            latest = invocations[0]
        elif con.execute("select 1 from batches where run_id = ?", [run_id]).fetchall():
            latest = _unfinished_run(con, run_id)
        else:
            sql = "select distinct run_id from batches order by 1"
            known = [r for (r,) in con.execute(sql).fetchall()]
            raise ValueError(f"no run {run_id!r} in this store; runs: {', '.join(known)}")
        stages = [
            {
                "stage": c["stage"],
                "in": c["n_in"],
                "kept": c["n_out"],
                "rejected": c["n_rejected"],
                "seconds": round(c["seconds"], 3),
            }
            for c in latest["counts"]
        ]
        rejects = sorted(
            (
                {"stage": c["stage"], "reason": r["reason"], "n": r["n"]}
                for c in latest["counts"]
                for r in c["rejected_by_reason"] or []
            ),
            key=lambda r: (r["stage"], -r["n"], r["reason"]),
        )
        by_stage = {s["stage"]: s for s in stages}

        def counts(sql: str) -> dict[str, int]:
            return {key: n for key, n in con.execute(sql, [run_id]).fetchall()}

        verdicts = counts(
            "select verdict, count(*) as n from attempts where run_id = ? "
            "group by verdict order by n desc, verdict"
        )
        error_types = counts(
            "select error_type, count(*) as n from mistakes where run_id = ? "
            "group by error_type order by n desc, error_type"
        )
        origins = counts(
            "select origin, count(*) as n from mistakes where run_id = ? "
            "group by origin order by n desc, origin"
        )
        source = by_stage.get("source")
        return {
            "run_id": run_id,
            "invocations": len(invocations),
            "started_at": latest["started_at"],
            "finished_at": latest["finished_at"],
            "wall_seconds": latest["wall_seconds"],
            "wall_seconds_total": round(sum(i["wall_seconds"] for i in invocations), 3),
            "batches": latest["batches_total"],
            "batches_skipped": latest["batches_skipped"],
            "parameters": json.loads(latest["parameters"]),
            "problems": source["kept"] if source else None,
            "mistakes": sum(error_types.values()),
            "stages": stages,
            "rejects": rejects,
            "verification": {
                "attempts_by_verdict": verdicts,
                "injections_verified": _rate(by_stage, INJECTION_STAGE),
                "corrections_verified": _rate(by_stage, CORRECTION_STAGE),
            },
            "error_types": error_types,
            "origins": origins,
            "llm_usage": _usage(con, run_id),
            "growth": _growth(con, Path(shards)),
        }
    finally:
        con.close()


# --- Markdown and table ------------------------------------------------------------------------


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def facts_table(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage (in, kept, rejected, kept share, seconds, top reject reasons), for
    Prefect's `create_table_artifact`."""
    rows = []
    for stage in facts["stages"]:
        reasons = [r for r in facts["rejects"] if r["stage"] == stage["stage"]][:3]
        rows.append(
            {
                **stage,
                "kept_share": _percent(stage["kept"] / stage["in"] if stage["in"] else None),
                "top_reject_reasons": ", ".join(f"{r['reason']} {r['n']}" for r in reasons),
            }
        )
    return rows


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return ["(none)"]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(header))]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if right else "---" for right in numeric) + "|",
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


def _verification_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    verification = facts["verification"]
    rows = []
    for label, key in (
        ("injected candidates verified", "injections_verified"),
        ("corrections verified", "corrections_verified"),
    ):
        rate = verification[key]
        if rate:
            rows.append(
                (label, f"{rate['verified']:,} of {rate['in']:,} ({_percent(rate['rate'])})")
            )
    verdicts = verification["attempts_by_verdict"]
    total = sum(verdicts.values())
    for verdict, n in verdicts.items():
        rows.append((f"attempts {verdict}", f"{n:,} of {total:,} ({_percent(n / total)})"))
    return rows


def _sections(facts: dict[str, Any]) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """The report's tables, (title, header, rows) in order: the Markdown artifact and the
    HTML report show the same ones."""
    return [
        (
            "Stages",
            ["stage", "in", "kept", "rejected", "kept share", "seconds"],
            [
                (r["stage"], r["in"], r["kept"], r["rejected"], r["kept_share"], r["seconds"])
                for r in facts_table(facts)
            ],
        ),
        (
            "Rejects by stage and reason",
            ["stage", "reason", "rejected"],
            [(r["stage"], r["reason"], r["n"]) for r in facts["rejects"]],
        ),
        ("Verification", ["what", "verified"], _verification_rows(facts)),
        ("Mistakes by error type", ["error type", "mistakes"], list(facts["error_types"].items())),
        ("Mistakes by origin", ["origin", "mistakes"], list(facts["origins"].items())),
        (
            "Growth of the store, per run invocation",
            ["started", "run", "problems", "mistakes"],
            [(g["started_at"], g["run_id"], g["problems"], g["mistakes"]) for g in facts["growth"]],
        ),
    ]


def facts_markdown(facts: dict[str, Any]) -> str:
    """The facts as Markdown, for Prefect's `create_markdown_artifact`."""
    usage = facts["llm_usage"]
    lines = [
        f"# errata run `{facts['run_id']}`",
        "",
        f"- problems: {facts['problems']}",
        f"- mistakes: {facts['mistakes']}",
        f"- batches: {facts['batches']} ({facts['batches_skipped']} already done, skipped)",
        f"- wall time: {facts['wall_seconds']} s (started {facts['started_at']}; "
        f"{facts['invocations']} invocation(s), {facts['wall_seconds_total']} s in all)",
        f"- LLM requests: {usage['requests']} ({usage['cached']} from the cache, "
        f"{usage['failed']} failed); tokens: {usage['prompt_tokens']} prompt, "
        f"{usage['completion_tokens']} completion; cost: ${usage['cost_usd']:.4f}",
    ]
    for title, header, rows in _sections(facts):
        lines += ["", f"## {title}", "", *_markdown_table(header, rows)]
    return "\n".join(lines) + "\n"


# --- charts ------------------------------------------------------------------------------------


def _figure() -> Any:
    # The object API, not pyplot: no global figure state and no GUI backend, whatever the
    # host process has imported. matplotlib is imported here: it costs ~0.5 s at start-up.
    from matplotlib.figure import Figure

    return Figure(figsize=CHART_SIZE, dpi=CHART_DPI, layout="constrained")


def _empty(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this run", ha="center", va="center", color="#666666")
    ax.set_axis_off()


def _errors_chart(ax: Any, facts: dict[str, Any]) -> None:
    items = list(facts["error_types"].items())
    if not items:
        return _empty(ax, "mistakes")
    labels, values = zip(*reversed(items), strict=True)  # largest on top
    bars = ax.barh(labels, values, color=KEPT_COLOR)
    ax.bar_label(bars, padding=3, fontsize=8)
    ax.set_xlabel("mistakes")
    ax.set_title(f"Mistakes by error type ({facts['mistakes']:,})")
    ax.margins(x=0.1)


def _stages_chart(ax: Any, facts: dict[str, Any]) -> None:
    stages = list(reversed(facts["stages"]))  # the first stage on top
    if not stages:
        return _empty(ax, "stages")
    labels = [s["stage"] for s in stages]
    kept = [s["kept"] for s in stages]
    rejected = [s["rejected"] for s in stages]
    ax.barh(labels, kept, color=KEPT_COLOR, label="kept")
    ax.barh(labels, rejected, left=kept, color=REJECTED_COLOR, label="rejected")
    ax.set_xlabel("items")
    ax.set_title("Stage outcomes")
    ax.legend(loc="lower right", frameon=False)


def _growth_chart(ax: Any, facts: dict[str, Any]) -> None:
    growth = facts["growth"]
    if not growth:
        return _empty(ax, "runs")
    # Evenly spaced invocations, labelled by start time: nights stay readable when a night
    # holds several runs minutes apart.
    positions = list(range(len(growth)))
    for key, color in zip(("problems", "mistakes"), LINE_COLORS, strict=True):
        ax.plot(positions, [g[key] for g in growth], marker="o", color=color, label=key)
    step = max(1, len(growth) // 8)
    ticks = positions[::step]
    ax.set_xticks(ticks, [growth[i]["started_at"][:16].replace("T", "\n") for i in ticks])
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("in the store")
    ax.set_title("Growth over nights (per run invocation)")
    ax.legend(loc="upper left", frameon=False)


def _chart_png(draw: Any, facts: dict[str, Any]) -> bytes:
    from matplotlib import rc_context

    # Bundled font and no timestamped metadata: the same facts draw the same bytes.
    style = {"font.family": "DejaVu Sans", "font.size": 9}
    with rc_context({**style, "axes.spines.top": False, "axes.spines.right": False}):
        figure = _figure()
        draw(figure.add_subplot(), facts)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()


def chart_pngs(facts: dict[str, Any]) -> dict[str, bytes]:
    """file name -> PNG bytes of each chart in CHARTS."""
    draws = {"errors.png": _errors_chart, "stages.png": _stages_chart, "growth.png": _growth_chart}
    return {name: _chart_png(draws[name], facts) for name in CHARTS}


def _write_bytes(path: Path, data: bytes) -> Path:
    return write_atomically(path, lambda file: file.write(data))


def write_charts(facts: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write errors.png, stages.png and growth.png into `out_dir`; returns their paths."""
    return [_write_bytes(Path(out_dir) / name, png) for name, png in chart_pngs(facts).items()]


# --- the HTML report ---------------------------------------------------------------------------


def sample_mistakes(shards: Path, run_id: str, n: int) -> list[dict[str, Any]]:
    """Up to `n` mistakes of a run, taking each (error type, origin) in turn so a sample of a
    run with many types shows them all; ordered by id within a group, so it is stable."""
    con = connect(Path(shards))
    try:
        return _rows(
            con,
            "select * from mistakes where run_id = ? order by row_number() over "
            "(partition by error_type, origin order by mistake_id), error_type, origin, "
            "mistake_id limit ?",
            run_id,
            n,
        )
    finally:
        con.close()


def _e(value: Any) -> str:
    return html.escape(str(value))


def highlight(text: str, start: int, end: int) -> str:
    """`text` HTML-escaped, with characters [start, end) inside a <mark>."""
    return f"{_e(text[:start])}<mark>{_e(text[start:end])}</mark>{_e(text[end:])}"


def _html_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _step_label(index: int | None) -> str:
    return "none proven wrong" if index is None else f"step {index + 1}"


def _mistake_html(mistake: dict[str, Any]) -> str:
    first = mistake["first_error_step"]
    wrong_step = mistake["wrong_steps"][first]
    edit = mistake.get("edit")
    if edit:
        steps = (
            '<div class="pair">'
            f'<div><h4>Original step {first + 1}</h4><p class="step original">'
            f"{highlight(edit['original_step'], edit['original_start'], edit['original_end'])}"
            "</p></div>"
            f'<div><h4>Wrong step {first + 1}</h4><p class="step wrong">'
            f"{highlight(wrong_step, edit['wrong_start'], edit['wrong_end'])}</p></div>"
            "</div>"
        )
    else:
        steps = (
            f'<div class="pair"><div><h4>Wrong step {first + 1}</h4>'
            f'<p class="step wrong">{_e(wrong_step)}</p></div></div>'
        )
    verdicts = ""
    if edit is None and mistake.get("checker_agrees") is not None:
        agrees = mistake["checker_agrees"]
        verdicts = (
            '<div class="pair verdicts">'
            f"<div><h4>Teacher</h4><p>first wrong step: {_step_label(first)}</p></div>"
            "<div><h4>Step checker</h4><p>first wrong step: "
            f"{_step_label(mistake.get('checker_first_error_step'))} — "
            f'<span class="{"agree" if agrees else "disagree"}">'
            f"{'agrees' if agrees else 'disagrees'}</span></p></div></div>"
        )
    return (
        f'<article class="mistake" data-error-type="{_e(mistake["error_type"])}" '
        f'data-origin="{_e(mistake["origin"])}">'
        f'<p class="meta"><b>{_e(mistake["error_type"])}</b> · {_e(mistake["origin"])} · '
        f"{_e(mistake['method'])} · <code>{_e(mistake['mistake_id'])}</code></p>"
        f'<p class="question">{_e(mistake["question"])}</p>'
        f"{steps}{verdicts}"
        f'<p class="answers">wrong answer <b>{_e(mistake["wrong_answer"])}</b>, reference '
        f"<b>{_e(mistake['reference_answer'])}</b></p>"
        f'<p class="explanation">{_e(mistake["explanation"])}</p>'
        "</article>"
    )


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
  padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
h4 { margin: 0 0 .3rem; font-size: .8rem; text-transform: uppercase; color: #666; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #eee; text-align: left; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(28rem, 1fr)); gap: 1rem; }
.charts img { width: 100%; height: auto; border: 1px solid #eee; }
.mistake { border: 1px solid #ddd; border-radius: 6px; padding: .8rem 1rem; margin: .8rem 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.step { font-family: ui-monospace, monospace; font-size: .85rem; background: #f7f7f9;
  padding: .5rem; border-radius: 4px; white-space: pre-wrap; margin: 0; }
mark { background: #ffe08a; padding: 0 .1em; }
.wrong mark { background: #ffb3a7; }
.meta, .answers, .explanation { color: #444; font-size: .9rem; }
.agree { color: #1b7a3a; font-weight: 600; } .disagree { color: #b3261e; font-weight: 600; }
.controls { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
"""

# Filtering and paging of the sample; without it every row is simply shown.
SCRIPT = """
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll(".mistake"));
  var type = document.getElementById("filter-type");
  var origin = document.getElementById("filter-origin");
  var prev = document.getElementById("prev"), next = document.getElementById("next");
  var status = document.getElementById("page-status"), size = 10, page = 0;
  function matching() {
    return rows.filter(function (row) {
      return (!type.value || row.dataset.errorType === type.value) &&
        (!origin.value || row.dataset.origin === origin.value);
    });
  }
  function show() {
    var shown = matching(), pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(page, pages - 1);
    rows.forEach(function (row) { row.hidden = true; });
    shown.slice(page * size, (page + 1) * size).forEach(function (row) { row.hidden = false; });
    status.textContent = shown.length + " rows, page " + (page + 1) + " of " + pages;
    prev.disabled = page === 0; next.disabled = page >= pages - 1;
  }
  type.onchange = origin.onchange = function () { page = 0; show(); };
  prev.onclick = function () { page -= 1; show(); };
  next.onclick = function () { page += 1; show(); };
  show();
})();
"""


def _options(values: Sequence[str], everything: str) -> str:
    return f'<option value="">{everything}</option>' + "".join(
        f'<option value="{_e(v)}">{_e(v)}</option>' for v in values
    )


def report_html(
    facts: dict[str, Any], charts: dict[str, bytes], mistakes: Sequence[dict[str, Any]]
) -> str:
    """The whole report as one HTML page: charts inline as data URIs, no network needed."""
    images = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" '
        f'alt="{_e(CHARTS[name])}" width="{int(CHART_SIZE[0] * CHART_DPI)}" '
        f'height="{int(CHART_SIZE[1] * CHART_DPI)}">'
        for name, png in charts.items()
    )
    usage = facts["llm_usage"]
    summary = [
        ("problems", facts["problems"]),
        ("mistakes", facts["mistakes"]),
        ("batches", f"{facts['batches']} ({facts['batches_skipped']} already done)"),
        ("started", facts["started_at"]),
        (
            "wall time",
            f"{facts['wall_seconds']} s ({facts['invocations']} invocation(s), "
            f"{facts['wall_seconds_total']} s in all)",
        ),
        (
            "LLM requests",
            f"{usage['requests']} ({usage['cached']} cached, {usage['failed']} failed)",
        ),
        ("tokens", f"{usage['prompt_tokens']} prompt, {usage['completion_tokens']} completion"),
        ("cost", f"${usage['cost_usd']:.4f}"),
    ]
    tables = "".join(
        f"<h2>{_e(title)}</h2>\n{_html_table(header, rows)}\n"
        for title, header, rows in _sections(facts)
    )
    types = sorted({m["error_type"] for m in mistakes})
    origins = sorted({m["origin"] for m in mistakes})
    title = f"errata run report: {facts['run_id']}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{_e(title)}</h1>
{_html_table(["", ""], summary)}
<h2>Charts</h2>
<div class="charts">{images}</div>
{tables}<h2>Sample of mistakes ({len(mistakes)})</h2>
<div class="controls">
<label>error type <select id="filter-type">{_options(types, "all")}</select></label>
<label>origin <select id="filter-origin">{_options(origins, "all")}</select></label>
<button id="prev" type="button">previous</button>
<button id="next" type="button">next</button>
<span id="page-status"></span>
</div>
<section id="sample">{"".join(_mistake_html(m) for m in mistakes)}</section>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _list_in_manifest(export_dir: Path) -> None:
    """Name the report files among the export's meta files, so the folder stays
    self-consistent (and the next export replaces them rather than leaving them behind)."""
    manifest = read_manifest(export_dir)
    meta = sorted({*manifest.get("meta_files", []), *REPORT_FILES})
    if meta != manifest.get("meta_files"):
        write_manifest(export_dir, {**manifest, "meta_files": meta})


def write_report(
    shards: Path, export_dir: Path, run_id: str | None = None, sample_rows: int = 50
) -> Path:
    """Write `<export_dir>/_errata/report.html` (charts inline, tables, a sample of mistake
    rows) and the charts as PNGs in `_errata/charts/`; returns the HTML's path."""
    facts = run_facts(Path(shards), run_id)
    charts = chart_pngs(facts)
    mistakes = sample_mistakes(Path(shards), facts["run_id"], sample_rows)
    meta = Path(export_dir) / META_DIR
    with export_lock(Path(export_dir)):
        for name, png in charts.items():
            _write_bytes(meta / CHARTS_DIR / name, png)
        report = meta / REPORT
        write_text(report, report_html(facts, charts, mistakes))
        if is_export(export_dir):
            _list_in_manifest(Path(export_dir))
    return report
