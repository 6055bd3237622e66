"""Stage bookkeeping shared by every domain: each stage keeps its own books.

A stage is a plain function over a batch's items with one job. It reports every item it
saw as kept or rejected (with a reason code, written to `rejects`), and the seconds it
spent, so `n_in == n_out + n_rejected` holds per stage and a run can say where items went.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from errata.schemas.ids import content_hash
from errata.schemas.records import ReasonCount, Reject, StageCount


@dataclass
class StageBooks:
    """One stage's running totals within a batch."""

    stage: str
    n_in: int = 0
    n_out: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_count(self) -> StageCount:
        return StageCount(
            stage=self.stage,
            n_in=self.n_in,
            n_out=self.n_out,
            n_rejected=sum(self.rejected.values()),
            rejected_by_reason=[
                ReasonCount(reason=reason, n=n) for reason, n in sorted(self.rejected.items())
            ],
            seconds=round(self.seconds, 6),
        )


@dataclass
class BatchContext:
    """What the stages of one batch share: the run id, the rejects and each stage's books."""

    run_id: str
    rejects: list[Reject] = field(default_factory=list)
    books: dict[str, StageBooks] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, n_in: int) -> Iterator[StageBooks]:
        """Books for one pass of a stage over `n_in` items; checks that every item is
        accounted for as kept or rejected when the pass ends."""
        books = self.books.setdefault(name, StageBooks(name))
        rejected_before = sum(books.rejected.values())
        out_before = books.n_out
        books.n_in += n_in
        started = time.perf_counter()
        yield books
        books.seconds += time.perf_counter() - started
        accounted = books.n_out - out_before + sum(books.rejected.values()) - rejected_before
        if accounted != n_in:
            raise AssertionError(f"stage {name}: {n_in} items in, {accounted} kept or rejected")

    def reject(
        self, books: StageBooks, reason: str, message: str, item_id: str, payload: Any
    ) -> None:
        books.rejected[reason] += 1
        self.rejects.append(
            Reject(
                reject_id="r-" + content_hash(books.stage, reason, item_id, self.run_id),
                stage=books.stage,
                reason=reason,
                message=message,
                item_id=item_id,
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str),
                run_id=self.run_id,
            )
        )

    def stage_counts(self) -> list[StageCount]:
        return [books.to_count() for books in self.books.values()]


def sum_stage_counts(counts: list[StageCount], order: tuple[str, ...] = ()) -> list[StageCount]:
    """Add up the books of many batches, stage by stage: stages in `order` first, the rest in
    the order they first appear."""
    totals: dict[str, StageBooks] = {}
    for count in counts:
        books = totals.setdefault(count.stage, StageBooks(count.stage))
        books.n_in += count.n_in
        books.n_out += count.n_out
        books.seconds += count.seconds
        for reason in count.rejected_by_reason:
            books.rejected[reason.reason] += reason.n
        # Books written before reasons were kept carry only the total.
        missing = count.n_rejected - sum(r.n for r in count.rejected_by_reason)
        if missing:
            books.rejected["unknown"] += missing
    rank = {stage: i for i, stage in enumerate(order)}
    ordered = sorted(totals.values(), key=lambda b: rank.get(b.stage, len(rank)))
    return [books.to_count() for books in ordered]
