"""Final-answer verification: extract a model's final answer and compare it with the reference.

Plain numbers are compared exactly with `Fraction` and never touch sympy. Everything else goes
through math-verify, always bounded by a deadline:

* math-verify's own timeout uses `signal.alarm`, which only works in a process's main thread, so
  its timeouts are switched off and replaced by our own `setitimer` deadline around the whole
  parse+verify of one pair. That deadline also needs the main thread.
* `verify_answers` runs math-verify in worker subprocesses (`answer_worker`, JSON lines over
  stdin/stdout), each in its own main thread. Workers stuck where a signal cannot reach (long C
  calls) are caught by a per-chunk wall-clock watchdog in the parent, killed and replaced.
  Plain subprocesses start from any thread and from daemonic processes (Dask's workers), where a
  multiprocessing pool cannot.
* `verify_answer` called outside the main thread (e.g. inside a Prefect or Dask task) sends its
  math-verify work to one worker subprocess instead of running it unbounded.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from errata.generators.verify.arithmetic import NUMBER_RE, parse_number

AnswerVerdict = Literal["correct", "incorrect", "unparseable", "timeout"]

# Slack on top of the per-item budget before the parent declares a worker stuck: covers IPC and
# JSON, not computation (the in-worker deadline bounds that).
WATCHDOG_GRACE_SECONDS = 2.0
WORKER_STARTUP_SECONDS = 60.0
WORKER_STOP_SECONDS = 5.0
MAX_CHUNK = 16
# Warm workers kept between calls (at least this many, or one per core).
MAX_IDLE_WORKERS = 4


@dataclass(frozen=True)
class AnswerCheck:
    """Outcome of comparing one prediction with its reference."""

    verdict: AnswerVerdict
    predicted: str | None
    detail: str


# --- extraction --------------------------------------------------------------------------------

_GSM8K_RE = re.compile(r"####\s*([^\n]+)")
_ANSWER_LINE_RE = re.compile(r"^[ \t]*(?:A|Answer)[ \t]*:[ \t]*(\S[^\n]*)$", re.M | re.I)
_STATED_RE = re.compile(
    r"(?:\bfinal\s+answer|\bthe\s+answer)\s*(?:is\b\s*:?|:)[ \t]*(\S[^\n]*)", re.I
)
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANNOTATION_RE = re.compile(r"<<[^<>]*>>")
_SUBTRACTION_END_RE = re.compile(r"[\d)]\s*[-−]$")
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)")
_LATEX_COMMAND_RE = re.compile(r"\\[A-Za-z]+")
_TEXT_GROUP_RE = re.compile(r"\\(?:text|mbox|mathrm)\s*\{[^{}]*\}")
_WORD_RE = re.compile(r"[A-Za-z]+")
# Function names that appear in bare formulas without a backslash (`sqrt(2)`, `log 8`).
_FORMULA_WORDS = {"sqrt", "frac", "pi", "inf", "infty", "log", "ln", "exp", "sin", "cos", "tan"}
_MATH_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
BARE_ANSWER_MAX_CHARS = 80


def extract_answer(text: str) -> str | None:
    """The final answer in a model output or bare answer, as written; None if there is none.

    Looks, in order, for the last `\\boxed{...}`, `#### n`, `A: n` line, and `The answer is ...` /
    `Final answer: ...`; then accepts a short formula-like text as a bare answer; then falls back
    to the last number.
    """
    if not text or not text.strip():
        return None
    boxed = _last_boxed(text)
    if boxed is not None:
        return _clean(boxed) or None
    for pattern in (_GSM8K_RE, _ANSWER_LINE_RE, _STATED_RE):
        matches = pattern.findall(text)
        if matches:
            answer = matches[-1]
            # "Final Answer: The final answer is 5." nests one statement in another.
            while nested := _STATED_RE.search(answer):
                answer = nested.group(1)
            answer = _clean(_first_sentence(answer))
            if answer:
                return answer
    stripped = _clean(text)
    if _is_bare_answer(stripped):
        return stripped
    return _last_number(text)


def _last_boxed(text: str) -> str | None:
    """Contents of the last `\\boxed{...}`, braces balanced; None if absent or unclosed."""
    starts = [m.end() for m in _BOXED_RE.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for position in range(start, len(text)):
            char = text[position]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return text[start:position]
    return None


def _first_sentence(answer: str) -> str:
    # "The answer is 18. I hope it is correct." -> "18"; decimals have no space after the dot.
    match = _SENTENCE_END_RE.search(answer)
    return answer[: match.start()] if match else answer


def _clean(answer: str) -> str:
    """Strip markdown emphasis, math delimiters and a trailing full stop around an answer."""
    text = answer.strip().strip("*`").strip()
    changed = True
    while changed:
        changed = False
        for opening, closing in _MATH_WRAPPERS:
            inner = text[len(opening) : -len(closing)]
            if (
                len(text) > len(opening) + len(closing)
                and text.startswith(opening)
                and text.endswith(closing)
                and opening not in inner
            ):
                text = inner.strip()
                changed = True
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1].rstrip()
            changed = True
    boxed = _last_boxed(text)
    return _clean(boxed) if boxed is not None else text


def _is_bare_answer(text: str) -> bool:
    """A short single-line formula (`\\frac{3}{4}`, `(1, 2]`, `0.5`), not a sentence."""
    if not text or "\n" in text or len(text) > BARE_ANSWER_MAX_CHARS:
        return False
    return not _looks_like_prose(text)


def _looks_like_prose(text: str) -> bool:
    """Words, not a formula: a word of 3+ letters, or two words of 2+ (`so it is 13`)."""
    without_latex = _LATEX_COMMAND_RE.sub(" ", _TEXT_GROUP_RE.sub(" ", text))
    words = [w for w in _WORD_RE.findall(without_latex) if w.lower() not in _FORMULA_WORDS]
    return any(len(w) >= 3 for w in words) or sum(len(w) >= 2 for w in words) >= 2


def _last_number(text: str) -> str | None:
    # Calculator annotations repeat the visible result and may hold unfinished arithmetic.
    visible = _ANNOTATION_RE.sub(" ", text)
    matches = list(NUMBER_RE.finditer(visible))
    if not matches:
        return None
    last = matches[-1]
    number = last.group(0).rstrip(".")
    before = visible[: last.start()].rstrip("$ ")
    # A minus sign belongs to the number only when it is not a subtraction (`16-3`).
    if before.endswith(("-", "−")) and not _SUBTRACTION_END_RE.search(before):
        number = "-" + number
    return number


# --- numeric fast path -------------------------------------------------------------------------

_PLAIN_NUMBER_RE = re.compile(
    r"""^(?P<sign>[-+]?)\s*\$?\s*(?P<sign2>[-+]?)\s*
    (?P<number>(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d{1,3})?)
    (?:/(?P<denominator>\d+))?
    \s*(?P<percent>%|percent\b)?$""",
    re.X | re.I,
)
_UNIT_TAIL_RE = re.compile(r"(?:\s+[A-Za-z]{2,}\.?)+$")
# Trailing words that are mathematics, not units: "3 pi" is not 3.
_MATH_WORDS = {"pi", "sqrt", "root", "squared", "cubed", "times", "over", "plus", "minus", "inf"}


@dataclass(frozen=True)
class _Number:
    value: Fraction
    percent: bool

    def candidates(self) -> set[Fraction]:
        # "12%" may be compared with "12" (GSM8K writes percentages bare) or with "0.12".
        return {self.value / 100, self.value} if self.percent else {self.value}


def _as_number(answer: str) -> _Number | None:
    """The answer as a plain number (`$1,200.00`, `-5`, `12%`, `3/4`, `18 dollars`), else None."""
    text = (
        answer.replace("\\$", "$")
        .replace("\\%", "%")
        .replace("{,}", ",")
        .replace("\\!", "")
        .replace("−", "-")
        .strip()
    )
    tail = _UNIT_TAIL_RE.search(text)
    if tail:
        words = {word.rstrip(".").lower() for word in tail.group(0).split()}
        if words & _MATH_WORDS:
            return None
        if "percent" not in words:
            text = text[: tail.start()]
    match = _PLAIN_NUMBER_RE.match(text.strip())
    if not match:
        return None
    if match["sign"] and match["sign2"]:
        return None
    value = parse_number(match["number"])
    if value is None:
        return None
    if match["denominator"]:
        if int(match["denominator"]) == 0:
            return None
        value /= int(match["denominator"])
    if "-" in (match["sign"], match["sign2"]):
        value = -value
    return _Number(value, percent=bool(match["percent"]))


# --- math-verify under a deadline --------------------------------------------------------------


class _DeadlineExceeded(BaseException):
    """BaseException so math-verify's broad `except Exception` handlers cannot swallow it."""


class _DropTimeoutDisabledWarning(logging.Filter):
    # math-verify warns once per process that its timeouts are off; ours replace them.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _logger_name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_logger_name).addFilter(_DropTimeoutDisabledWarning())


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise _DeadlineExceeded in the main thread after `seconds` of wall time."""

    def on_alarm(signum: int, frame: object) -> None:
        raise _DeadlineExceeded

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


def _math_verify_input(answer: str) -> str:
    # Bare LaTeX (`\sqrt{8}`, `(1,2]`) is only recognised inside math delimiters; prose is not.
    if "$" in answer or _looks_like_prose(answer):
        return answer
    return f"${answer}$"


def _math_verify(predicted: str, reference: str) -> AnswerCheck:
    from math_verify import parse, verify

    from errata.generators.verify.multipart import check_parts

    by_parts = check_parts(predicted, reference)
    if by_parts is not None:
        return by_parts
    gold = parse(_math_verify_input(reference), parsing_timeout=None)
    if not gold:
        return AnswerCheck("unparseable", predicted, "math-verify could not parse the reference")
    target = parse(_math_verify_input(predicted), parsing_timeout=None)
    if not target:
        return AnswerCheck("unparseable", predicted, "math-verify could not parse the answer")
    if verify(gold, target, timeout_seconds=None):
        return AnswerCheck("correct", predicted, "math-verify: equivalent")
    return AnswerCheck("incorrect", predicted, "math-verify: not equivalent")


def _math_verify_with_deadline(
    predicted: str, reference: str, timeout_seconds: float
) -> AnswerCheck:
    """math-verify bounded by our own alarm; main thread only."""
    try:
        with _deadline(timeout_seconds):
            return _math_verify(predicted, reference)
    except _DeadlineExceeded:
        return AnswerCheck("timeout", predicted, f"math-verify exceeded {timeout_seconds}s")


def _verify_chunk(pairs: list[tuple[str, str]], timeout_seconds: float) -> list[AnswerCheck]:
    """Worker task: extracted (predicted, reference) pairs, one deadline each."""
    return [_math_verify_with_deadline(p, r, timeout_seconds) for p, r in pairs]


# --- one pair ----------------------------------------------------------------------------------


def _check_without_sympy(prediction: str, reference: str) -> AnswerCheck | tuple[str, str]:
    """Settle a pair by extraction and exact numbers, or hand back the answers for math-verify."""
    reference_answer = extract_answer(reference)
    predicted = extract_answer(prediction)
    if reference_answer is None:
        return AnswerCheck("unparseable", predicted, "no reference answer found")
    if predicted is None:
        return AnswerCheck("unparseable", None, "no answer found")
    predicted_number, reference_number = _as_number(predicted), _as_number(reference_answer)
    if predicted_number is not None and reference_number is not None:
        if predicted_number.candidates() & reference_number.candidates():
            return AnswerCheck("correct", predicted, f"numeric {predicted} == {reference_answer}")
        return AnswerCheck("incorrect", predicted, f"numeric {predicted} != {reference_answer}")
    # Imported here: multipart builds on this module.
    from errata.generators.verify.multipart import check_parts_without_sympy

    by_parts = check_parts_without_sympy(predicted, reference_answer)
    return by_parts if by_parts is not None else (predicted, reference_answer)


def _require_positive(timeout_seconds: float) -> None:
    # A zero timer would switch the alarm off, leaving math-verify unbounded.
    if not timeout_seconds > 0:
        raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")


def verify_answer(prediction: str, reference: str, timeout_seconds: int = 5) -> AnswerCheck:
    """Compare a model output (or bare answer) with a reference (answer or full solution).

    Plain numbers are settled inline. Other answers go to math-verify: inline under an alarm in
    the main thread; from any other thread (a Prefect or Dask task) through a worker
    subprocess, still bounded by `timeout_seconds`.
    """
    _require_positive(timeout_seconds)
    outcome = _check_without_sympy(prediction, reference)
    if isinstance(outcome, AnswerCheck):
        return outcome
    if _in_main_thread():
        return _math_verify_with_deadline(*outcome, timeout_seconds)
    return _run_in_workers([outcome], workers=1, timeout_seconds=timeout_seconds)[0]


# --- many pairs --------------------------------------------------------------------------------


def verify_answers(
    pairs: Sequence[tuple[str, str]], workers: int = 2, timeout_seconds: int = 5
) -> list[AnswerCheck]:
    """Verify (prediction, reference) pairs in order: numbers inline, the rest in workers."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    _require_positive(timeout_seconds)
    results: list[AnswerCheck | None] = [None] * len(pairs)
    slow_positions: list[int] = []
    slow_pairs: list[tuple[str, str]] = []
    for position, (prediction, reference) in enumerate(pairs):
        outcome = _check_without_sympy(prediction, reference)
        if isinstance(outcome, AnswerCheck):
            results[position] = outcome
        else:
            slow_positions.append(position)
            slow_pairs.append(outcome)
    if slow_pairs:
        checks = _run_in_workers(slow_pairs, workers, timeout_seconds)
        for position, check in zip(slow_positions, checks, strict=True):
            results[position] = check
    return [check for check in results if check is not None]


# One pair of each kind math-verify handles lazily (LaTeX parser, sqrt, intervals, pi): about a
# second of first-use setup per process that must not be charged to a real item's deadline.
_WARM_UP_PAIRS = [
    ("\\frac{1}{2}", "0.5"),
    ("\\sqrt{8}", "2\\sqrt{2}"),
    ("(1, 2]", "(1,2]"),
    ("2\\pi", "\\frac{3\\pi}{2}"),
]


def warm_up() -> None:
    """Pay math-verify's first-use costs (imports, parser set-up) now; main thread only."""
    for predicted, reference in _WARM_UP_PAIRS:
        _math_verify_with_deadline(predicted, reference, 30)


# --- worker subprocesses -----------------------------------------------------------------------
#
# Plain subprocesses rather than a multiprocessing pool: they start from any thread and from
# daemonic processes (Dask's nanny workers may not have multiprocessing children), and each one
# runs math-verify in its own main thread, where the alarm works.

WORKER_MODULE = "errata.generators.verify.answer_worker"


class _WorkerDied(Exception):
    """The worker's stdout closed: it crashed or was killed."""


class _Worker:
    """One warm math-verify subprocess, driven by one caller at a time."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._pending = bytearray()

    def fileno(self) -> int:
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as exc:  # BrokenPipeError: it died between requests
            raise _WorkerDied from exc

    def read_reply(self) -> dict[str, Any] | None:
        """Read what the pipe holds (call when it is readable); the reply once a line is whole."""
        chunk = os.read(self.fileno(), 1 << 16)
        if not chunk:
            raise _WorkerDied
        self._pending += chunk
        line, newline, rest = self._pending.partition(b"\n")
        if not newline:
            return None
        self._pending = bytearray(rest)
        return json.loads(line)

    def alive(self) -> bool:
        return self.process.poll() is None and self.owner == os.getpid()

    def stop(self, kill: bool = True) -> None:
        """Kill the worker (or, with kill=False, let it finish by closing its stdin)."""
        if self.owner != os.getpid():
            return  # inherited through fork: the parent's worker, not ours to stop
        if kill:
            self.process.kill()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with suppress(OSError):
                    pipe.close()
        try:
            self.process.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _start_workers(count: int) -> list[_Worker]:
    """`count` workers that have finished warming up, started in parallel."""
    workers = [_Worker() for _ in range(count)]
    waiting = {worker.fileno(): worker for worker in workers}
    give_up_at = time.monotonic() + WORKER_STARTUP_SECONDS
    try:
        with selectors.DefaultSelector() as selector:
            for worker in workers:
                selector.register(worker.fileno(), selectors.EVENT_READ, worker)
            while waiting:
                remaining = give_up_at - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(
                        f"answer-verification workers did not start in {WORKER_STARTUP_SECONDS}s"
                    )
                for key, _ in selector.select(timeout=remaining):
                    worker = key.data
                    try:
                        ready = worker.read_reply()
                    except _WorkerDied:
                        raise RuntimeError(
                            f"answer-verification worker exited at start-up "
                            f"(code {worker.process.wait()}); see its stderr above"
                        ) from None
                    if ready is not None:
                        selector.unregister(worker.fileno())
                        del waiting[worker.fileno()]
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


# Warm workers left by earlier calls (warming one costs about a second). Callers check workers
# out and back in, so threads verifying at the same time each drive their own.
_idle_workers: list[_Worker] = []
_idle_lock = threading.Lock()


def _check_out(count: int) -> list[_Worker]:
    with _idle_lock:
        # Workers inherited through fork belong to the parent.
        _idle_workers[:] = [w for w in _idle_workers if w.owner == os.getpid()]
        taken = [_idle_workers.pop() for _ in range(min(count, len(_idle_workers)))]
    taken = [w for w in taken if w.alive()]
    if len(taken) < count:
        taken += _start_workers(count - len(taken))  # outside the lock: others need not wait
    return taken


def _check_in(workers: Sequence[_Worker]) -> None:
    keep_at_most = max(MAX_IDLE_WORKERS, os.cpu_count() or 1)
    with _idle_lock:
        for worker in workers:
            if worker.alive() and len(_idle_workers) < keep_at_most:
                _idle_workers.append(worker)
            else:
                worker.stop()


def shutdown_workers() -> None:
    """Stop the idle verification workers (new ones start on demand)."""
    with _idle_lock:
        stopping = [w for w in _idle_workers if w.owner == os.getpid()]
        _idle_workers.clear()
    for worker in stopping:
        worker.stop(kill=False)


atexit.register(shutdown_workers)


def _chunk_size(count: int, workers: int) -> int:
    # About four chunks per worker balances load; the cap keeps a stuck chunk's blast radius small.
    return max(1, min(MAX_CHUNK, -(-count // (workers * 4))))


ChunkTask = Callable[[list[tuple[str, str]], float], list[AnswerCheck]]


def _run_in_workers(
    pairs: list[tuple[str, str]],
    workers: int,
    timeout_seconds: float,
    task: ChunkTask = _verify_chunk,
) -> list[AnswerCheck]:
    """Run `task` over chunks of extracted pairs in worker subprocesses, bounded in wall time.

    Each worker holds one chunk at a time, so a chunk's deadline (items x timeout + grace) starts
    when it is sent. A worker past its deadline is stuck beyond its own alarm, and one whose
    pipe closes has died: either way it is killed and replaced, and its chunk is split into
    single items; a single item that is stuck or kills its worker is reported as "timeout".
    `task` must be importable by name, since the worker looks it up.
    """
    results: list[AnswerCheck | None] = [None] * len(pairs)
    size = _chunk_size(len(pairs), workers)
    queue: deque[list[int]] = deque(
        list(range(start, min(start + size, len(pairs)))) for start in range(0, len(pairs), size)
    )
    task_name = f"{task.__module__}:{task.__qualname__}"
    team = _check_out(min(workers, len(queue)))
    idle = list(team)
    busy: dict[_Worker, tuple[list[int], float]] = {}

    def give_up(position: int, detail: str) -> None:
        results[position] = AnswerCheck("timeout", pairs[position][0], detail)

    def retire(worker: _Worker, positions: list[int], detail: str) -> None:
        selector.unregister(worker.fileno())
        busy.pop(worker)
        team.remove(worker)
        worker.stop()
        if len(positions) > 1:
            queue.extendleft([position] for position in reversed(positions))
        else:
            give_up(positions[0], detail)

    with selectors.DefaultSelector() as selector:
        try:
            while queue or busy:
                if queue and not idle and len(team) < workers:
                    replacement = _start_workers(1)[0]
                    team.append(replacement)
                    idle.append(replacement)
                while queue and idle:
                    worker, positions = idle.pop(), queue.popleft()
                    request = {
                        "task": task_name,
                        "pairs": [pairs[i] for i in positions],
                        "timeout": timeout_seconds,
                    }
                    budget = len(positions) * timeout_seconds + WATCHDOG_GRACE_SECONDS
                    busy[worker] = (positions, time.monotonic() + budget)
                    selector.register(worker.fileno(), selectors.EVENT_READ, worker)
                    try:
                        worker.send(request)
                    except _WorkerDied:
                        retire(worker, positions, "worker process died")
                if not busy:
                    continue
                next_deadline = min(deadline for _, deadline in busy.values())
                for key, _ in selector.select(timeout=max(0.0, next_deadline - time.monotonic())):
                    worker = key.data
                    positions, _ = busy[worker]
                    try:
                        reply = worker.read_reply()
                    except _WorkerDied:
                        retire(worker, positions, "worker process died")
                        continue
                    if reply is None:
                        continue
                    selector.unregister(worker.fileno())
                    busy.pop(worker)
                    idle.append(worker)
                    for position, (verdict, predicted, detail) in zip(
                        positions, reply["checks"], strict=True
                    ):
                        results[position] = AnswerCheck(verdict, predicted, detail)
                now = time.monotonic()
                for worker, (positions, deadline) in list(busy.items()):
                    if deadline <= now:
                        retire(worker, positions, f"worker stuck past {timeout_seconds}s; killed")
        finally:
            for worker in busy:  # interrupted (e.g. KeyboardInterrupt): no busy workers left
                team.remove(worker)
                worker.stop()
            _check_in(team)
    return [check for check in results if check is not None]


# --- records -----------------------------------------------------------------------------------


def _require_fields(record: dict) -> None:
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    for field in ("prediction", "reference"):
        if not isinstance(record.get(field), str):
            raise ValueError(f"expected field '{field}' (string)")


def _annotated(record: dict, check: AnswerCheck) -> dict:
    return {
        **record,
        "verdict": check.verdict,
        "predicted_answer": check.predicted,
        "verify_detail": check.detail,
    }


def annotate_record(record: dict, timeout_seconds: int = 5) -> dict:
    """The record plus `verdict`, `predicted_answer` and `verify_detail` for the CLI."""
    _require_fields(record)
    check = verify_answer(record["prediction"], record["reference"], timeout_seconds)
    return _annotated(record, check)


def annotate_records(
    numbered: Sequence[tuple[int, dict]], workers: int = 2, timeout_seconds: int = 5
) -> list[dict]:
    """Annotate many (line number, record) pairs at once, math-verify work in the pool.

    A record without the fields raises ValueError naming its line.
    """
    for line, record in numbered:
        try:
            _require_fields(record)
        except ValueError as exc:
            raise ValueError(f"line {line}: {exc}") from exc
    pairs = [(r["prediction"], r["reference"]) for _, r in numbered]
    checks = verify_answers(pairs, workers=workers, timeout_seconds=timeout_seconds)
    return [_annotated(r, c) for (_, r), c in zip(numbered, checks, strict=True)]
