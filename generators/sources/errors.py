"""Errors for input that cannot become problems, naming the file, line and field at fault."""

from __future__ import annotations

from dataclasses import dataclass


class BadInputError(ValueError):
    """A record that cannot be read, named by file, line and field.

    e.g. `data/x.jsonl:17: expected field 'question' (string), got nothing`.
    """

    def __init__(
        self,
        path: str,
        line: int | None,
        expected: str,
        field: str | None = None,
        got: str | None = None,
        detail: str | None = None,
        reason: str = "bad_input",
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.expected = expected
        self.got = got
        self.detail = detail
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"field '{field}' ({expected})" if field else expected
        message = f"{where}: expected {what}"
        if got is not None:
            message += f", got {got}"
        if detail:
            message += f": {detail}"
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)

    def to_bad_line(self, raw: str) -> BadLine:
        """The same failure as a skipped line, for `--skip-bad`."""
        return BadLine(
            path=self.path, line=self.line, raw=raw, reason=self.reason, message=str(self)
        )


class SourceUnavailableError(ValueError):
    """A named source (e.g. a Hub dataset id) that cannot be loaded from here.

    A ValueError, like BadInputError, so callers report it as a bad argument, not a crash.
    """


@dataclass(frozen=True)
class BadLine:
    """A line skipped under `--skip-bad`: it goes to the rejects table instead of stopping."""

    path: str
    line: int | None
    raw: str  # the line as read (or the row as JSON for Parquet/Hub rows)
    reason: str  # short code: bad_json, not_object, missing_field, wrong_type, no_final_answer, ...
    message: str  # the full BadInputError message


def describe_value(value: object) -> str:
    """How a wrong value is shown in a message: `nothing`, `null`, `a number (3)`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else f"a string ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
