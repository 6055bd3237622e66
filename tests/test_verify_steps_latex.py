"""The step checker on LaTeX arithmetic and symbolic chains: correct solutions, slips, the CLI.

`CORRECT_LATEX_SOLUTIONS`, `LATEX_SLIPS` and `SYMBOLIC_SLIPS` are also what
benchmarks/step_checker_gsm8k.py measures.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errata.generators.verify.steps import (
    annotate_record,
    check_steps,
    clear_caches,
    first_error_step,
)
from tests.conftest import GSM8K_DIR, REPO

# Competition-style worked solutions, every claim in them true. Steps the checker cannot read
# (variables, irrational roots, units, mixed numbers, `\approx`) are in on purpose: they must
# stay unchecked, never wrong.
CORRECT_LATEX_SOLUTIONS: list[list[str]] = [
    [
        r"The bakery sells $\frac{3}{4}$ of its 8 trays, so $\frac{3}{4} \cdot 8 = 6$ trays.",
        r"Each tray holds 12 rolls: $6 \times 12 = 72$ rolls sold.",
        r"The rest is $8 - 6 = 2$ trays, that is $2 \cdot 12 = 24$ rolls.",
        r"The answer is $\boxed{72}$.",
    ],
    [
        r"We need $2^{10}$. Doubling ten times: $2^{10} = 1024$.",
        r"Then $2^{10} - 2^{8} = 1024 - 256 = 768$.",
        r"Also $\dfrac{2^{10}}{2^{8}} = 2^{2} = 4$.",
        r"So $768 \div 4 = 192$, and $\boxed{192}$ is the answer.",
    ],
    [
        r"\sqrt{16} + 3 = 7",
        r"\sqrt{\frac{9}{16}} = \frac{3}{4}, and \sqrt[3]{27} = 3.",
        r"Hence $\sqrt{16} \cdot \sqrt[3]{27} = 4 \cdot 3 = 12$.",
        r"The diagonal is $\sqrt{2} \approx 1.414$, which we cannot simplify further.",
    ],
    [
        r"\left( 2 + 3 \right) \times 4 = 20",
        r"Next, \(\left[ (2 + 3) \cdot 4 - 5 \right] \div 3 = 15 \div 3 = 5\).",
        r"Nesting once more: "
        r"\[ 2 \cdot \left( 3 + \left( 4 - 1 \right) \cdot 2 \right) = 2 \cdot 9 = 18 \]",
        r"So the expression equals $18$.",
    ],
    [
        r"1{,}000 + 24 = 1{,}024",
        r"The town had $12{,}500$ people and gained $1{,}250$: $12{,}500 + 1{,}250 = 13{,}750$.",
        r"In thin-space style, $1\,000\,000 - 250\,000 = 750\,000$.",
        r"With commas, $3,000 \times 4 = 12,000$ dollars.",
    ],
    [
        r"Let $x$ be the number of apples. Then $3x + 5 = 20$, so $3x = 15$ and $x = 5$.",
        r"Check: $3 \cdot 5 + 5 = 20$. Correct.",
        r"So Maria has $x = 5$ apples and Tom has $2x = 10$ apples.",
        r"Together they have $5 + 10 = 15$ apples.",
    ],
    [
        r"The probability is $\frac{4}{52} = \frac{1}{13}$.",
        r"For two draws with replacement, $\frac{1}{13} \cdot \frac{1}{13} = \frac{1}{169}$.",
        r"The complement is $1 - \frac{1}{169} = \frac{168}{169}$.",
        r"As a decimal, $\frac{1}{13} \approx 0.077$.",
    ],
    [
        r"There are $\frac{5!}{2! \cdot 3!} = \frac{120}{2 \cdot 6} = 10$ ways to choose.",
        r"That matches $\binom{5}{2} = 10$.",
        r"With order, $5 \cdot 4 = 20$ arrangements, and $\frac{20}{2} = 10$ again.",
    ],
    [
        r"The area of the rectangle is $3 \text{ cm} \times 4 \text{ cm} = 12 \text{ cm}^2$.",
        r"Its perimeter is $2(3 + 4) = 14$ cm.",
        r"The triangle has area $\frac{1}{2} \cdot 6 \cdot 4 = 12$ square units.",
        r"Together: $12 + 12 = 24$.",
    ],
    [
        r"The price rose by $20\%$: $1.2 \times 50 = 60$ dollars.",
        r"The discount is $25\% \cdot 60 = 15$ dollars, so she pays $60 - 15 = 45$ dollars.",
        r"As a share of the original, $\frac{45}{50} \times 100 = 90\%$.",
        r"In dollars, \$45 is $0.9 \cdot 50 = 45$.",
    ],
    [
        r"We compute $f(3) = 2 \cdot 3^{2} - 4 = 18 - 4 = 14$.",
        r"Then $f(-1) = 2 \cdot (-1)^{2} - 4 = 2 - 4 = -2$.",
        r"So $f(3) - f(-1) = 14 - (-2) = 16$.",
        r"Note that $(-2)^{3} = -8$ while $-2^{2} = -4$.",
    ],
    [
        r"The mixed number $2\frac{1}{2}$ is $\frac{5}{2}$.",
        r"So $\frac{5}{2} \times 4 = 10$.",
        r"And $\frac{10}{3} = 3.33$ to two places, $\frac{10}{3} \approx 3.3$.",
        r"Finally $\frac{\frac{1}{2}}{\frac{1}{4}} = 2$.",
    ],
    [
        r"Light travels $3 \times 10^{5}$ km per second, so in a minute it travels "
        r"$60 \cdot 3 \times 10^{5} = 1.8 \times 10^{7}$ km.",
        r"$8^{\frac{2}{3}} = 4$ and $16^{-\frac{1}{2}} = \frac{1}{4}$.",
        r"Also $|{-7}| + |3| = 10$.",
    ],
    [
        r"**Step 1:** Add the two fractions: "
        r"$\frac{1}{2} + \frac{1}{3} = \frac{3}{6} + \frac{2}{6} = \frac{5}{6}$.",
        r"**Step 2:** Multiply by 12: $\frac{5}{6} \times 12 = 10$.",
        r"- Subtract: $10 - 7 = 3$",
        r"- Square it: $3^{2} = 9$",
    ],
    [
        r"Since $a = 4$ and $b = 3$, we get $a^{2} + b^{2} = 16 + 9 = 25$, so $c = \sqrt{25} = 5$.",
        r"The ratio is $a : b = 4 : 3$.",
        r"And $\frac{a + b}{c} = \frac{7}{5} = 1.4$.",
    ],
    [  # notation read two ways, or not arithmetic at all: unchecked, never wrong
        r"In base two, $1010_2 = 10$, and $2:30 + 1:15 = 3:45$ on the clock.",
        r"The angles give $180^\circ - 60^\circ = 120^\circ$, and $6' = 72''$.",
        r"The points are $(3, 4)$ and $(6, 8)$, the set is $\{1, 2, 3\}$.",
        r"Since $17 \equiv 2 \pmod{5}$, and $\frac{1}{3} = 0.\overline{3}$, $\log_2 8 = 3$.",
        r"Half of $3 \cdot 4 = 6$, and $x$ times $2 + 3 = 10$ when $x = 2$.",
        r"\begin{align*} 2 + 3 &= 5 \\ &= 10 - 5 \end{align*}",
        r"$\displaystyle \frac{1}{2} + \frac{1}{4} = \frac{3}{4}$, and $5! = 120$,"
        r" $2^{64} = 2^{64}$.",
        r"In European style, $1,5 + 2 = 3,5$; to the nearest tenth, $\frac{2}{3} = 0.7$.",
    ],
]

# (steps, the step with the slip): one off link each, among correct steps.
LATEX_SLIPS: list[tuple[list[str], int]] = [
    ([r"\frac{3}{4} \cdot 8 = 7"], 0),
    ([r"We need $2^{10}$.", r"So $2^{10} = 1000$."], 1),
    ([r"$6 \times 12 = 72$", r"\sqrt{16} + 3 = 8"], 1),
    ([r"\left( 2 + 3 \right) \times 4 = 25"], 0),
    ([r"$8 - 6 = 2$", r"$1{,}000 + 24 = 1{,}014$"], 1),
    ([r"\(\left[ (2 + 3) \cdot 4 - 5 \right] \div 3 = 15 \div 3 = 6\)"], 0),
    ([r"$\frac{1}{2} + \frac{1}{3} = \frac{2}{5}$", r"$\frac{2}{5} \times 5 = 2$"], 0),
    ([r"Check: $3 \cdot 5 + 5 = 20$.", r"Together they have $5 + 10 = 16$ apples."], 1),
    ([r"There are $\frac{5!}{2! \cdot 3!} = \frac{120}{2 \cdot 6} = 12$ ways."], 0),
    ([r"The discount is $25\% \cdot 60 = 12$ dollars."], 0),
    ([r"We compute $f(3) = 2 \cdot 3^{2} - 4 = 18 - 4 = 12$."], 0),
    ([r"$2\frac{1}{2}$ apples each.", r"So $\frac{5}{2} \times 4 = 12$."], 1),
    ([r"The triangle has area $\frac{1}{2} \cdot 6 \cdot 4 = 24$ square units."], 0),
    ([r"$12{,}500 + 1{,}250 = 13{,}650$."], 0),
    ([r"$3^{2} = 9$", r"$\sqrt[3]{27} = 3$", r"Then $9 \cdot 3 = 26$."], 2),
    ([r"**Step 2:** Multiply by 12: $\frac{5}{6} \times 12 = 11$."], 0),
    ([r"\[ 2 \cdot \left( 3 + \left( 4 - 1 \right) \cdot 2 \right) = 2 \cdot 9 = 20 \]"], 0),
    ([r"So $(-2)^{3} = 8$."], 0),
    ([r"Light travels $60 \cdot 3 \times 10^{5} = 1.8 \times 10^{6}$ km."], 0),
    ([r"$\frac{45}{50} \times 100 = 80\%$"], 0),
]

# BIG-Bench-Mistake-style traces: the first link is symbolic, a later one is off.
SYMBOLIC_SLIPS: list[tuple[list[str], int]] = [
    (["(A * B) + (C * D) = (-19 * 72) + (-2 * -1) = -1364 + 2 = -1362"], 0),
    (
        [
            'This equation can be written as "A * B", where A = (-5 + 9 * -3 - 0) and'
            " B = (-6 - -2 * -5 + 2).",
            "Let's calculate A = (-5 + 9 * -3 - 0) = (-5 + (9 * -3) - 0) = (-5 + (-27) - 0)"
            " = (-32 - 0) = -32.",
            "Let's calculate B = (-6 - -2 * -5 + 2) = (-6 - (-2 * -5) + 2) = (-6 - 10 + 2)"
            " = (-16 + 2) = -14.",
            "Then, the final equation is A * B = -32 * -14 = 438. So the answer is 438.",
        ],
        3,
    ),
    (["A + B = (7 - 3) + (2 * 4) = 4 + 8 = 13"], 0),
    (["f(3) = 3 * 3 - 1 = 9 - 1 = 7"], 0),
    (["Total cost of the pens = 4 * 2.5 = 10", "Total = pens + pencils = 10 + 3 = 12"], 1),
]


# ---------------------------------------------------------------- GSM8K references in LaTeX

# The visible copy of a calculation, its annotation and the printed result: `3 * 4 = <<3*4=12>>12`.
_ANNOTATION_RE = re.compile(r"([\d\s.,$+\-–−*/x×÷()%]*=\s*\$?)?<<([^<>=]+)=([^<>=]+)>>([\d.,]*\d)?")
_DELIMITERS = [r"\({}\)", "${}$", r"\[{}\]", "{}"]
_THOUSANDS = ["{,}", "\\,", ",", ""]
_TIMES = [r"\times", r"\cdot"]
_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 3, ast.Pow: 4}


def latex_number(text: str, style: int) -> str:
    """A written number in LaTeX, its thousands grouped in one of four styles."""
    whole, dot, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    if len(digits) > 3 and digits.isdigit():
        grouped = f"{int(digits):,}"
        digits = grouped.replace(",", _THOUSANDS[style % len(_THOUSANDS)])
    return sign + digits + dot + fraction


def latex_expression(node: ast.AST, style: int) -> str:
    """Calculator syntax (`(3+4)*2/5`) as LaTeX: `\\frac` for `/`, `\\left(` for grouping."""
    if isinstance(node, ast.Constant):
        return latex_number(
            repr(node.value) if isinstance(node.value, float) else str(node.value), style
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
        return latex_expression(node.operand, style)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return "-" + _grouped(node.operand, 2, style)
    if not isinstance(node, ast.BinOp) or type(node.op) not in _PRECEDENCE:
        raise ValueError(ast.dump(node))
    if isinstance(node.op, ast.Div):
        numerator, denominator = (latex_expression(side, style) for side in (node.left, node.right))
        return rf"\frac{{{numerator}}}{{{denominator}}}"
    level = _PRECEDENCE[type(node.op)]
    left = _grouped(node.left, level, style)
    right = _grouped(node.right, level + (not isinstance(node.op, ast.Pow)), style)
    if isinstance(node.op, ast.Pow):
        return f"{left}^{{{latex_expression(node.right, style)}}}"
    symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: _TIMES[style % 2]}[type(node.op)]
    return f"{left} {symbol} {right}"


def _grouped(node: ast.AST, level: int, style: int) -> str:
    text = latex_expression(node, style)
    inner = _PRECEDENCE.get(type(getattr(node, "op", None)), 5)
    if (isinstance(node, ast.BinOp) and inner < level) or isinstance(node, ast.UnaryOp):
        return rf"\left( {text} \right)"
    return text


def latex_step(step: str, style: int, slip: bool = False) -> str:
    """A reference step with each `a * b = <<a*b=c>>c` written `\\(a \\times b = c\\)`; with
    `slip`, the first value is one more than the calculator said."""
    slipped = False
    delimiters = _DELIMITERS[style % len(_DELIMITERS)]
    if "$" in step:
        delimiters = _DELIMITERS[0]  # `$` pairs would take in the currency signs

    def render(match: re.Match) -> str:
        nonlocal slipped
        expression, value = match.group(2), match.group(3).strip()
        try:
            latex = latex_expression(
                ast.parse(expression.replace("^", "**"), mode="eval").body, style
            )
            number = Decimal(value)
        except (SyntaxError, ValueError, ArithmeticError):
            return match.group(0)  # `08*2`, `<<3/4=3/4>>`: left as they are
        if slip and not slipped:
            value, slipped = format(number + 1, "f"), True
        return " " + delimiters.format(f"{latex} = {latex_number(value, style)}")

    return _ANNOTATION_RE.sub(render, step)


def latex_references(rows: list[dict]) -> list[tuple[list[str], list[str], int | None]]:
    """(steps, the same with a slip, the slip's step) for each GSM8K reference solution."""
    rendered = []
    for number, row in enumerate(rows):
        steps = [line for line in row["answer"].split("\n") if line.strip()]
        annotated = [i for i, step in enumerate(steps) if _ANNOTATION_RE.search(step)]
        correct = [latex_step(step, number) for step in steps]
        slipped = list(correct)
        if annotated:
            slipped[annotated[0]] = latex_step(steps[annotated[0]], number, slip=True)
        rendered.append((correct, slipped, annotated[0] if annotated else None))
    return rendered


def verdicts_of(steps: list[str]) -> list[str]:
    return [verdict.verdict for verdict in check_steps(steps)]


# ---------------------------------------------------------------- the constructed sets


def test_constructed_set_is_large_enough() -> None:
    steps = sum(len(solution) for solution in CORRECT_LATEX_SOLUTIONS)
    assert steps >= 40
    checked = sum(verdicts_of(solution).count("ok") for solution in CORRECT_LATEX_SOLUTIONS)
    assert checked >= 40  # the steps are read, not merely left unchecked


@pytest.mark.parametrize("solution", CORRECT_LATEX_SOLUTIONS, ids=lambda s: s[0][:30])
def test_correct_latex_solutions_are_never_flagged(solution: list[str]) -> None:
    verdicts = check_steps(solution)
    assert [v for v in verdicts if v.verdict == "wrong"] == []


@pytest.mark.parametrize(("steps", "index"), LATEX_SLIPS, ids=lambda x: str(x)[:40])
def test_latex_slips_are_flagged_at_their_step(steps: list[str], index: int) -> None:
    assert first_error_step(check_steps(steps)) == index


@pytest.mark.parametrize(("steps", "index"), SYMBOLIC_SLIPS, ids=lambda x: str(x)[:40])
def test_symbolic_slips_are_flagged_at_their_step(steps: list[str], index: int) -> None:
    assert first_error_step(check_steps(steps)) == index


def test_gsm8k_references_in_latex_are_not_flagged_and_slips_are() -> None:
    """Every fourth GSM8K reference, its calculations rewritten as LaTeX (benchmarked whole)."""
    path = GSM8K_DIR / "test.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()][::4]
    flagged, caught, slips = [], 0, 0
    for (correct, slipped, index), row in zip(latex_references(rows), rows, strict=True):
        first = first_error_step(check_steps(correct, row["question"]))
        if first is not None:
            flagged.append(correct[first])
        if index is not None:
            slips += 1
            caught += first_error_step(check_steps(slipped, row["question"])) == index
    assert all("$32 - $20 = $300" in step for step in flagged), flagged  # the reference's slip
    assert caught / slips > 0.9


# ---------------------------------------------------------------- what is read, and how


@pytest.mark.parametrize(
    ("step", "detail"),
    [
        (r"\frac{3}{4} \cdot 8 = 7", r"\frac{3}{4} \cdot 8 = 7 but is 6"),
        (r"$2^{10} = 1000$", "2^{10} = 1000 but is 1024"),
        (r"1{,}000 + 24 = 1{,}014", "1{,}000 + 24 = 1{,}014 but is 1024"),
        (
            r"$\frac{1}{2} + \frac{1}{3} = \frac{2}{5}$",
            r"\frac{1}{2} + \frac{1}{3} = \frac{2}{5} but is 5/6",
        ),
        (r"$\frac{45}{50} \times 100 = 80\%$", r"\frac{45}{50} \times 100 = 80\% but is 90%"),
        (r"$2 \cdot 3 = 6 + 4 = 11$", "6 + 4 = 11 but is 10"),
    ],
)
def test_latex_failure_details(step: str, detail: str) -> None:
    verdict = check_steps([step])[0]
    assert (verdict.verdict, verdict.detail) == ("wrong", detail)


@pytest.mark.parametrize(
    "step",
    [
        r"$2\frac{1}{2} \cdot 2 = 5$",  # a mixed number, or 2 * 1/2: not guessed
        r"$1 000 + 24 = 1 024$",  # a spaced thousands group, or two numbers
        r"$2^10 \cdot 1 = 1024$",  # TeX sets 2^1 then 0
        r"$x^{2} = 9$",
        r"$\sqrt{2} = 1.41$",  # irrational: not exact
        r"$\pi r^{2} = 3.14 \cdot 4$",
        r"$5 \text{ million} + 2 = 7$",
        r"$\binom{5}{2} = 11$",  # outside the arithmetic the checker reads
        r"$2^{1000} = 3$",  # beyond the bounds
        r"$0^{0} = 1$",
        r"$\frac{1}{0} = 0$",
        r"Half of $3 \cdot 4 = 6$.",  # the math continues an expression in the text
        r"So $x = \frac{10}{3} \approx 3$",
        r"$\sqrt{-4} = 2$",
        r"$6 \div 2(1+2) = 9$",  # 1 or 9, by whom you ask
        r"$3 \text{ dollars} + 5 = 9$",  # `+ 5` continues an expression the text began
        r"$5 \text{ apples} - 2 \text{ apples} = 4 \text{ apples}$",
    ],
)
def test_what_latex_cannot_settle_is_unchecked(step: str) -> None:
    assert check_steps([step])[0].verdict == "unchecked"


def test_latex_run_ons_are_read_as_written() -> None:
    steps = [
        r"$2 \cdot 3 = 6 + 4 = 10$",
        r"$2 \cdot 3 = 6 + 4 \cdot 2 = 20$",
        r"$2 \cdot 3 = 7 + 4 = 11$",
    ]
    assert verdicts_of(steps) == ["ok", "ok", "wrong"]


def test_juxtaposition_multiplies() -> None:
    # latex2sympy alone reads `3(4)` as the mixed number 3 4/1 = 7.
    steps = [r"\(3(4) = 12\)", r"\((2)(3) = 6\)", r"\(3(4) = 7\)"]
    assert verdicts_of(steps) == ["ok", "ok", "wrong"]


def test_a_run_glued_to_a_letter_drops_its_first_link() -> None:
    assert verdicts_of([r"f(3) = 2 \cdot 3 + 1 = 7", r"f(3) = 2 \cdot 3 + 1 = 8"]) == [
        "ok",
        "wrong",
    ]


def test_latex_is_hidden_from_the_plain_scanner() -> None:
    # Read as plain text, `4=12+3` would be a claim.
    assert check_steps([r"x^{2}+3\cdot 4=12+3 \text{ when } x = 3"])[0].verdict != "wrong"


def test_latex_in_the_question_binds_no_names() -> None:
    verdicts = check_steps(["x + 1 = 9"], question=r"Let x = 2^{3}. What is x + 1?")
    assert verdicts[0].verdict == "unchecked"


def test_plain_arithmetic_beside_latex_is_still_checked() -> None:
    steps = [r"So $\frac{1}{2} \cdot 10 = 5$ and 5 + 3 = 9."]
    verdict = check_steps(steps)[0]
    assert verdict.verdict == "wrong"
    assert verdict.detail == "5 + 3 = 9 but is 8"


def test_long_or_deep_latex_is_refused_quickly() -> None:
    long_side = " + ".join([r"\frac{1}{2}"] * 400)
    deep = r"\left(" * 40 + "1" + r"\right)" * 40
    started = time.process_time()
    assert verdicts_of([f"${long_side} = 200$", f"${deep} = 1$"]) == ["unchecked", "unchecked"]
    assert verdicts_of([r"$2^{2^{2^{2^{2^{2}}}}} = 4$", r"$10^{10^{10}} = 1$"]) == [
        "unchecked",
        "unchecked",
    ]
    assert time.process_time() - started < 2


def test_latex_checks_agree_across_threads() -> None:
    # Prefect runs tasks in threads; the parser is shared behind a lock.
    steps = [step for steps, _ in LATEX_SLIPS for step in steps]
    clear_caches()
    expected = [v.verdict for v in check_steps(steps)]
    clear_caches()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: [v.verdict for v in check_steps(steps)], range(8)))
    assert all(result == expected for result in results)


# ---------------------------------------------------------------- records and the CLI

CLI_RECORDS = [
    {"id": "symbolic", "steps": [SYMBOLIC_SLIPS[0][0][0], "So the answer is -1362."]},
    {"id": "latex", "steps": ["We need $\\frac{3}{4}$ of 8.", r"So $\frac{3}{4} \cdot 8 = 7$."]},
]


def test_annotate_record_flags_symbolic_and_latex_slips() -> None:
    symbolic, latex = (annotate_record(record) for record in CLI_RECORDS)
    assert symbolic["first_error_step"] == 0
    assert symbolic["step_verdicts"][0]["detail"] == (
        "(-19 * 72) + (-2 * -1) = -1364 + 2 but is -1366"
    )
    assert latex["first_error_step"] == 1
    assert latex["step_verdicts"][1] == {
        "index": 1,
        "verdict": "wrong",
        "claims": 1,
        "detail": r"\frac{3}{4} \cdot 8 = 7 but is 6",
    }


def test_cli_verify_steps_flags_them(tmp_path) -> None:
    source = tmp_path / "steps.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in CLI_RECORDS))
    result = subprocess.run(
        [sys.executable, "-m", "errata.flows.cli", "verify-steps", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [(line["id"], line["first_error_step"]) for line in lines] == [
        ("symbolic", 0),
        ("latex", 1),
    ]


# ---------------------------------------------------------------- properties


Rendered = tuple[str, str, Fraction]  # (LaTeX, plain text, exact value)


@st.composite
def operands(draw: st.DrawFn, depth: int) -> Rendered:
    if depth == 0 or draw(st.booleans()):
        n = draw(st.integers(0, 40))
        return str(n), str(n), Fraction(n)
    return draw(operations(depth - 1))


@st.composite
def operations(draw: st.DrawFn, depth: int = 2) -> Rendered:
    """A random operation over random operands; the plain text stays integer-valued."""
    kind = draw(st.sampled_from(["+", "-", "*", "frac", "pow", "sqrt"]))
    if kind == "sqrt":
        root = draw(st.integers(0, 30))
        return f"\\sqrt{{{root * root}}}", str(root), Fraction(root)
    left = draw(operands(depth))
    if kind == "pow":
        exponent = draw(st.integers(1, 3))  # 0^0 is refused
        latex = f"\\left({left[0]}\\right)^{{{exponent}}}"
        return latex, f"({left[1]})^{exponent}", left[2] ** exponent
    right = draw(operands(depth))
    if kind == "frac":
        divisor = right[2] or Fraction(1)
        quotient = left[2] / divisor
        plain = f"({left[1]}) / ({right[1] if right[2] else 1})"
        latex = f"\\frac{{{left[0]}}}{{{right[0] if right[2] else 1}}}"
        return latex, plain if quotient.denominator == 1 else str(quotient), quotient
    symbol = {"+": "+", "-": "-", "*": draw(st.sampled_from([r"\cdot", r"\times"]))}[kind]
    value = {"+": left[2] + right[2], "-": left[2] - right[2], "*": left[2] * right[2]}[kind]
    latex = f"\\left({left[0]}\\right) {symbol} \\left({right[0]}\\right)"
    return latex, f"({left[1]}) {kind} ({right[1]})", value


def latex_fraction(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}".replace(",", "{,}")
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


WRAPPERS = ["${}$", r"\({}\)", r"\[{}\]", "So {}", "We get ${}$.", "- ${}$"]


@settings(max_examples=150, deadline=None)
@given(operations(), st.sampled_from(WRAPPERS), st.sampled_from([0, 0, 1, -1, 7]))
def test_latex_chain_is_ok_iff_it_holds(expression: Rendered, wrapper: str, offset: int) -> None:
    latex, _, value = expression
    if abs(value) > 10**12:
        return
    step = wrapper.format(f"{latex} = {latex_fraction(value + offset)}")
    verdict = check_steps([step])[0]
    assert verdict.verdict == ("ok" if offset == 0 else "wrong"), (step, verdict)


@settings(max_examples=150, deadline=None)
@given(operations(), st.sampled_from([0, 0, 1, -1, 7]))
def test_plain_chain_agrees_with_the_latex_one(expression: Rendered, offset: int) -> None:
    latex, plain, value = expression
    if value.denominator != 1 or abs(value) > 10**12:
        return
    plain_verdict = check_steps([f"A = {plain} = {value + offset}"])[0].verdict
    latex_verdict = check_steps([f"$A = {latex} = {latex_fraction(value + offset)}$"])[0].verdict
    assert latex_verdict == ("ok" if offset == 0 else "wrong")
    assert plain_verdict in (latex_verdict, "unchecked")


LATEX_FRAGMENTS = [
    *["0", "1", "2", "10", "0.5", "1{,}000", r"\frac{1}{2}", r"\frac", r"\sqrt{4}", r"\sqrt"],
    *["^", "^{2}", "_", "{", "}", "(", ")", "[", "]", "=", "+", "-", r"\cdot", r"\times", r"\div"],
    *[r"\%", "%", "!", "|", r"\left(", r"\right)", r"\text{ cm}", r"\approx", "<", "$", r"\("],
    *[r"\)", r"\[", r"\]", "x", "f(3)", ",", ".", " ", " so ", "\\"],
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LATEX_FRAGMENTS), max_size=20).map("".join))
def test_any_latex_text_gets_a_consistent_verdict(text: str) -> None:
    for verdict in check_steps([text, text + " = 3"], question=text):
        assert verdict.verdict in ("ok", "wrong", "unchecked")
        assert (verdict.claims == 0) == (verdict.verdict == "unchecked")
        assert bool(verdict.detail) == (verdict.verdict == "wrong")
