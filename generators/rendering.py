"""Math solution text as a trainer wants it: no calculator markup, the answer in a chosen form.

The store keeps GSM8K's annotated original (`16 - 3 - 4 = <<16-3-4=9>>9`), which the
verifiers read; a model fine-tuned on it learns to emit the markup. Rendering is an export
concern and works line by line, so step numbers and step counts never change:

- an annotation whose expression is already written out before it is dropped
  (`16 - 3 - 4 = <<16-3-4=9>>9` becomes `16 - 3 - 4 = 9`);
- one whose expression is not written out becomes that expression
  (`He has <<5*4=20>>20 apples` becomes `He has 5 * 4 = 20 apples`);
- the `#### n` line becomes the chosen answer format.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from errata.generators.solutions import (
    ANNOTATION_RE,
    FINAL_ANSWER_RE,
    SolutionParseError,
    find_loose_mirror,
    find_mirror,
    render_answer,
    spaced_expression,
    tokenize_expression,
)

ANSWER_FORMATS = ("gsm8k", "boxed", "sentence")
_NUMBER_CHARS = set("0123456789.,")
# The sources so far (GSM8K, synthetic, mapped word-problem files) all end in `#### n`, the
# format GSM8K-trained graders read; competition-math sources will default to boxed.
DEFAULT_ANSWER_FORMAT = "gsm8k"


@dataclass(frozen=True)
class RenderOptions:
    """How exported text is written: `answer_format` None means the source's own format."""

    keep_annotations: bool = False
    answer_format: str | None = None


def answer_line(answer: str, answer_format: str) -> str:
    """The last line of a solution in one of ANSWER_FORMATS."""
    if answer_format == "gsm8k":
        return render_answer(answer)
    if answer_format == "boxed":
        return f"The final answer is $\\boxed{{{answer}}}$."
    if answer_format == "sentence":
        return f"The answer is {answer}."
    raise ValueError(
        f"answer format {answer_format!r}: expected one of {', '.join(ANSWER_FORMATS)}"
    )


def answer_instruction(options: RenderOptions) -> str:
    """What a prompt tells the model about the final answer, to match the rendered rows."""
    answer_format = options.answer_format or DEFAULT_ANSWER_FORMAT
    return {
        "gsm8k": "End with the final answer after '####'.",
        "boxed": "End with the final answer in \\boxed{}.",
        "sentence": "End with 'The answer is' and the final answer.",
    }[answer_format]


# Every mistake of a problem, and both corrections of a mistake, repeat the same steps, and
# each recipe renders them again: a bounded cache turns most of that into lookups.
@functools.lru_cache(maxsize=1 << 16)
def strip_annotations(step: str) -> str:
    """A step without `<<expr=value>>` markup, its arithmetic still written out."""
    if "<<" not in step:
        return step
    pieces, cursor = [], 0
    for match in ANNOTATION_RE.finditer(step):
        pieces.append(step[cursor : match.start()])
        if not _written_out(step, match.start(), cursor, match.group(1)):
            pieces.append(f"{spaced_expression(match.group(1).strip())} = ")
        cursor = match.end()
    pieces.append(step[cursor:])
    return "".join(pieces)


def _written_out(step: str, annotation_start: int, since: int, expression: str) -> bool:
    """Whether the text since the previous annotation already shows this expression."""
    # Most steps write the expression as annotated right before it (`16 - 3 - 4 = <<...`):
    # a text comparison settles those without parsing numbers.
    head = step[since:annotation_start].rstrip(" =$").replace(" ", "")
    written = expression.replace(" ", "")
    if head.endswith(written) and head[: -len(written)][-1:] not in _NUMBER_CHARS:
        return True
    try:
        tokens = tokenize_expression(expression)
    except SolutionParseError:
        return False
    operands = [t.value for t in tokens if t.is_number]
    if find_mirror(step, annotation_start, since, operands)[0] >= 0:
        return True
    return find_loose_mirror(step, annotation_start, since, tokens) is not None


def render_line(line: str, options: RenderOptions) -> str:
    final = FINAL_ANSWER_RE.match(line)
    if final:
        return answer_line(final.group(1), options.answer_format or DEFAULT_ANSWER_FORMAT)
    return line if options.keep_annotations else strip_annotations(line)


@functools.lru_cache(maxsize=1 << 15)  # a problem's mistakes share whole continuations
def render_text(text: str, options: RenderOptions) -> str:
    """Every line of a solution or trajectory rendered; line count unchanged."""
    return "\n".join(render_line(line, options) for line in text.split("\n"))
