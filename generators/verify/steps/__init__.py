"""Find the first step of a worked solution whose arithmetic does not hold.

A step is one line of text. Every arithmetic claim in it is checked exactly:

* GSM8K calculator annotations `<<expr=value>>`, and the number printed right after `>>`;
* `=` chains in the visible text: `16 - 3 - 4 = 9`, `$5 x 4 = $20`, `20% of 50 = 10`,
  `5 hours * 60 minutes = 300 minutes`, and run-ons such as `2 * 3 = 6 + 4 = 10`
  (read as 2*3=6, then 6+4=10);
* names bound by earlier claims (`cost = 5 * 4 = 20`, `x = 12`) used by later ones;
* every pair of adjacent numeric links of a chain, whatever its first link is
  (`(A * B) + (C * D) = (-19 * 72) + (-2 * -1) = -1364 + 2`, `f(3) = 2*3 + 1 = 7`);
* LaTeX arithmetic inside `$...$`, `\\(...\\)`, `\\[...\\]` or bare (`\\frac{3}{4} \\cdot 8 = 6`,
  `2^{10} = 1024`, `1{,}000 + 24 = 1{,}024`), parsed by latex2sympy2_extended and evaluated
  exactly within bounds.

Anything that cannot be read as plain arithmetic is skipped, never flagged: a false alarm on a
correct solution costs more than a missed slip. This runs on the pipeline's hot path, so it
tokenizes with one precompiled regex and evaluates its own token lists with int/Fraction
arithmetic instead of going through `ast`.

The modules, lowest first: `tokens` (the tokenizer), `parse` (segments and their value),
`claims` (when `A = B` holds), `scan` (chains in visible text), `annotations` (`<<...>>`),
`latex_value` (one LaTeX side's exact value), `latex` (LaTeX chains in a step) and `api`
(what the rest of errata calls). The LaTeX parser is imported only when a step holds LaTeX.
"""

from errata.generators.verify.steps.api import (
    Bindings,
    StepVerdict,
    Verdict,
    annotate_record,
    check_steps,
    clear_caches,
    first_error_step,
)
from errata.generators.verify.steps.parse import Number

__all__ = [
    "Bindings",
    "Number",
    "StepVerdict",
    "Verdict",
    "annotate_record",
    "check_steps",
    "clear_caches",
    "first_error_step",
]
