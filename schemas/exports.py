"""The contracts of exported training rows: one model per export config.

Every row carries its lineage (problem, mistake, source, origin, error type) next to the
columns a trainer reads, so a row on the Hub can be traced back to the shard it came from.
Rows built from a correct solution alone have no mistake: their mistake columns are null.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from errata.schemas.records import Record


class Message(Record):
    role: str
    content: str


class ExportRow(Record):
    problem_id: str
    mistake_id: str | None
    source: str
    origin: str | None
    error_type: str | None


class LemmaMessages(ExportRow):
    messages: list[Message]
    correction: str  # fix_continue | fresh_restart
    reflection: str
    first_error_step: int  # 0-based first wrong step of the wrong solution


class LemmaAlpaca(ExportRow):
    instruction: str
    input: str
    output: str
    correction: str
    reflection: str
    first_error_step: int  # 0-based first wrong step of the wrong solution


class RiseSolutionPairs(ExportRow):
    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    answer: str


class RiseStepPairs(ExportRow):
    prompt: str
    initial_reason_steps: str
    chosen: str
    rejected: str
    answer: str
    dataset: str
    first_error_step: int  # the step the pair is about, 0-based
    chosen_edit_start: int  # characters [start, end) of `chosen` replaced ...
    chosen_edit_end: int
    rejected_edit_start: int  # ... by characters [start, end) of `rejected`
    rejected_edit_end: int


class LemaCompletion(ExportRow):
    prompt: str
    completion: str
    first_error_step: int  # 0-based first wrong step of the wrong solution


class LemaMessages(ExportRow):
    messages: list[Message]
    first_error_step: int  # 0-based first wrong step of the wrong solution


class Introspect(ExportRow):
    messages: list[Message]
    weights: list[float]  # one per message: 0 masks it from the loss
    rewards: list[float]  # one per message: the attempt's reward, 0 for user turns


class Prm(ExportRow):
    prompt: str
    completions: list[str]
    labels: list[bool]
    first_error_step: int  # ProcessBench label: earliest wrong step, -1 when every step is right


class Retry(ExportRow):
    prompt: str
    completion: str
    retries: int
    first_error_step: int  # 0-based first wrong step of the wrong solution


class Kto(ExportRow):
    prompt: str
    completion: str
    label: bool


# config name -> (recipe, row model, one sentence for the dataset card)
EXPORT_CONFIGS: dict[str, tuple[str, type[ExportRow], str]] = {
    "lemma_messages": (
        "lemma",
        LemmaMessages,
        "LEMMA SFT: the wrong solution cut after its first wrong step, a reflection phrase, "
        "then a correction (fix & continue or fresh & restart), as chat messages.",
    ),
    "lemma_alpaca": (
        "lemma",
        LemmaAlpaca,
        "The same LEMMA trajectories as Alpaca-style instruction / input / output.",
    ),
    "rise_solution_pairs": (
        "rise",
        RiseSolutionPairs,
        "RISE full-solution preference pairs: a verified-correct solution (chosen) against "
        "a verified-wrong one (rejected), conversational DPO format.",
    ),
    "rise_step_pairs": (
        "rise",
        RiseStepPairs,
        "RISE step pairs: the question, the correct prefix (initial_reason_steps), the "
        "correct step (chosen) and the subtly edited step (rejected), with the edit span.",
    ),
    "lema_completion": (
        "lema",
        LemaCompletion,
        "LeMa correction data: the wrong solution with numbered steps in, the incorrect "
        "step, an explanation and the corrected solution from that step out.",
    ),
    "lema_messages": (
        "lema",
        LemaMessages,
        "The same LeMa rows as chat messages.",
    ),
    "introspect": (
        "introspect",
        Introspect,
        "Recursive introspection: a wrong attempt, outcome-only feedback, a corrected "
        "attempt; per-message loss weights mask the earlier attempt.",
    ),
    "prm": (
        "prm",
        Prm,
        "Step labels in TRL's stepwise format, with the first wrong step's index "
        "(ProcessBench convention, -1 when none).",
    ),
    "retry": (
        "retry",
        Retry,
        "Retry data (Physics of LMs 2.2): a wrong step, a [BACK] marker, then the right step.",
    ),
    "kto": (
        "kto",
        Kto,
        "Unpaired preference rows: a solution and whether it is correct.",
    ),
}

RECIPES: tuple[str, ...] = tuple(dict.fromkeys(recipe for recipe, _, _ in EXPORT_CONFIGS.values()))


def configs_of(recipe: str) -> list[str]:
    """The export configs a recipe produces, in declaration order."""
    return [name for name, (owner, _, _) in EXPORT_CONFIGS.items() if owner == recipe]


@dataclass
class ConfigFacts:
    name: str
    recipe: str
    description: str
    files: dict[str, list[str]]  # split -> paths relative to the export folder
    rows: dict[str, int]  # split -> rows


@dataclass
class CardFacts:
    title: str
    configs: list[ConfigFacts]
    licenses: dict[str, str]  # source -> license as the source names it
    problems_per_source: dict[str, int]
    mistakes_per_source: dict[str, int]
    mistakes_per_error_type: dict[str, int]
    mistakes_per_origin: dict[str, int]
    stage_counts: dict[str, tuple[int, int]]  # stage -> (in, out) over the exported runs
    excluded: dict[tuple[str, str, str], int]  # (config, step, reason) -> rows left out
    options: dict[str, object]
    decontamination: dict[str, object] = field(default_factory=dict)
    errata_version: str = ""
