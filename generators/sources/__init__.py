"""Problem sources: GSM8K (file or Hub), any mapped JSONL/Parquet file, and synthetic problems."""

from errata.generators.sources.check import SOURCE_KINDS, SourceCheck, check_source
from errata.generators.sources.errors import BadInputError, BadLine, SourceUnavailableError
from errata.generators.sources.files import iter_json_lines, load_mapped, read_records
from errata.generators.sources.gsm8k import load_gsm8k, problems_from_rows
from errata.generators.sources.synthetic import SyntheticConfig, generate, make_problem

__all__ = [
    "SOURCE_KINDS",
    "BadInputError",
    "BadLine",
    "SourceCheck",
    "SourceUnavailableError",
    "SyntheticConfig",
    "check_source",
    "generate",
    "iter_json_lines",
    "load_gsm8k",
    "load_mapped",
    "make_problem",
    "problems_from_rows",
    "read_records",
]
