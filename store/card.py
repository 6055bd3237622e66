"""The dataset card of an export: YAML front matter the Hub reads, and a body people read."""

from __future__ import annotations

from collections.abc import Sequence

from huggingface_hub import DatasetCard, DatasetCardData

from errata.schemas.exports import CardFacts

TASK_CATEGORIES = ["text-generation"]
TAGS = ["math", "reasoning", "error-correction", "synthetic", "errata"]

CITATIONS: dict[str, str] = {
    "lemma": """@article{pan2025lemma,
  title={LEMMA: Learning from Errors for MatheMatical Advancement in LLMs},
  author={Pan, Zhuoshi and others},
  journal={arXiv preprint arXiv:2503.17439},
  year={2025}
}""",
    "rise": """@article{xu2024subtle,
  title={Subtle Errors Matter: Preference Learning via Error-injected Self-editing},
  author={Xu, Kaishuai and others},
  journal={arXiv preprint arXiv:2410.06638},
  year={2024}
}""",
    "lema": """@article{an2023lema,
  title={Learning From Mistakes Makes LLM Better Reasoner},
  author={An, Shengnan and others},
  journal={arXiv preprint arXiv:2310.20689},
  year={2023}
}""",
    "introspect": """@article{qu2024recursive,
  title={Recursive Introspection: Teaching Language Model Agents How to Self-Improve},
  author={Qu, Yuxiao and others},
  journal={arXiv preprint arXiv:2407.18219},
  year={2024}
}""",
    "prm": """@article{zheng2024processbench,
  title={ProcessBench: Identifying Process Errors in Mathematical Reasoning},
  author={Zheng, Chujie and others},
  journal={arXiv preprint arXiv:2412.06559},
  year={2024}
}""",
    "retry": """@article{ye2024physics22,
  title={Physics of Language Models: Part 2.2,
    How to Learn From Mistakes on Grade-School Math Problems},
  author={Ye, Tian and others},
  journal={arXiv preprint arXiv:2408.16293},
  year={2024}
}""",
    "kto": """@article{ethayarajh2024kto,
  title={KTO: Model Alignment as Prospect Theoretic Optimization},
  author={Ethayarajh, Kawin and others},
  journal={arXiv preprint arXiv:2402.01306},
  year={2024}
}""",
}

# SPDX ids as the sources name them -> the Hub's license ids.
HUB_LICENSES = {"MIT": "mit", "CC0-1.0": "cc0-1.0", "Apache-2.0": "apache-2.0"}


def hub_license(licenses: Sequence[str]) -> str | list[str]:
    ids = sorted({HUB_LICENSES.get(name, "other") for name in licenses}) or ["unknown"]
    return ids[0] if len(ids) == 1 else ids


def size_category(rows: int) -> str:
    for bound, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if rows < bound:
            return label
    return "10M<n<100M"


def card_data(facts: CardFacts) -> DatasetCardData:
    configs = [
        {
            "config_name": config.name,
            "data_files": [
                {"split": split, "path": f"{config.name}/{split}-*.parquet"}
                for split in config.files
            ],
            **({"default": True} if i == 0 else {}),
        }
        for i, config in enumerate(facts.configs)
    ]
    largest = max((sum(c.rows.values()) for c in facts.configs), default=0)
    return DatasetCardData(
        pretty_name=facts.title,
        license=hub_license(list(facts.licenses.values())),
        language=["en"],
        task_categories=TASK_CATEGORIES,
        tags=TAGS,
        size_categories=[size_category(largest)],
        configs=configs,
    )


def _is_number(cell: object) -> bool:
    return str(cell).replace(",", "").replace("%", "").replace(".", "").isdigit()


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; columns of numbers are right-aligned."""
    numeric = [bool(rows) and all(_is_number(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if right else "---" for right in numeric) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> list[tuple[str, str]]:
    return [(key, f"{n:,}") for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def run_report_section(charts: Sequence[tuple[str, str]]) -> str:
    """A "Run report" section linking the export's chart PNGs, given as (alt text, path)."""
    if not charts:
        return ""
    images = "\n\n".join(f"![{alt}]({path})" for alt, path in charts)
    return f"""## Run report

The latest generation run in the store; `_errata/report.html` has the figures as tables and
a sample of mistakes to browse.

{images}

"""


def card_body(facts: CardFacts, charts: Sequence[tuple[str, str]] = ()) -> str:
    configs = _table(
        ["config", "recipe", "train", "test", "what it is"],
        [
            (
                f"`{c.name}`",
                c.recipe,
                f"{c.rows.get('train', 0):,}",
                f"{c.rows.get('test', 0):,}",
                c.description,
            )
            for c in facts.configs
        ],
    )
    sources = _table(
        ["source", "license", "problems", "mistakes"],
        [
            (
                source,
                facts.licenses[source],
                f"{facts.problems_per_source.get(source, 0):,}",
                f"{facts.mistakes_per_source.get(source, 0):,}",
            )
            for source in sorted(facts.licenses)
        ],
    )
    stages = _table(
        ["stage", "in", "out", "kept"],
        [
            (stage, f"{n_in:,}", f"{n_out:,}", f"{n_out / n_in:.1%}" if n_in else "-")
            for stage, (n_in, n_out) in facts.stage_counts.items()
        ],
    )
    excluded = _table(
        ["config", "step", "reason", "left out"],
        [(c, s, r, f"{n:,}") for (c, s, r), n in sorted(facts.excluded.items())],
    )
    decon = facts.decontamination
    if decon:
        decon_text = (
            f"Train rows whose question shares a {decon['n']}-gram of words (lower-cased, "
            f"punctuation ignored) with any of the {decon['questions']:,} questions in "
            f"{', '.join(f'`{name}`' for name in decon['files'])} were dropped: "
            f"{decon['dropped_rows']:,} rows of {decon['problems']:,} problems. Test rows "
            "are kept."
        )
    else:
        decon_text = "No decontamination file was given for this export."
    recipes = list(dict.fromkeys(c.recipe for c in facts.configs))
    citations = "\n\n".join(CITATIONS[r] for r in recipes if r in CITATIONS)
    options = ", ".join(f"`{k}={v}`" for k, v in sorted(facts.options.items()))
    first = facts.configs[0].name if facts.configs else "default"
    return f"""# {facts.title}

Mistake-correction training data made by errata {facts.errata_version}:
correct solutions get one subtle, verified error injected into one step; each wrong
solution is paired with corrections whose final answers verify against the reference.

## Configs

{configs}

Splits are assigned by problem: no problem appears in both `train` and `test`.

```python
from datasets import load_dataset

ds = load_dataset("path/or/repo", "{first}")
```

`_errata/export.json` (the export's options, decontamination and row counts) and
`_errata/exclusions.parquet` (each row left out, and why) are published as provenance, not
data: the `configs` above pin each config's files, so `datasets` never loads them.

## How it was made

Every mistake was verified by execution: the edited step's arithmetic is recomputed, later
steps are re-evaluated, the final answer is checked to differ from the reference, and both
corrections (fix & continue, fresh & restart) are checked to reach the reference answer.
Stage counts over all generation runs in the store:

{stages}

Export options: {options}.

### Mistakes by error type

{_table(["error type", "mistakes"], _counts(facts.mistakes_per_error_type))}

### Mistakes by origin

{_table(["origin", "mistakes"], _counts(facts.mistakes_per_origin))}

### Left out, with reasons

{excluded if facts.excluded else "Nothing was left out."}

### Decontamination

{decon_text}

## Sources and licenses

{sources}

{run_report_section(charts)}## Citations

```bibtex
{citations}
```
"""


def render_card(facts: CardFacts, charts: Sequence[tuple[str, str]] = ()) -> str:
    """The dataset card (README.md) as huggingface_hub renders it: YAML metadata, then body;
    `charts` are (alt text, relative path) of the run report's PNGs in the export."""
    content = f"---\n{card_data(facts).to_yaml()}\n---\n\n{card_body(facts, charts)}"
    return str(DatasetCard(content))
