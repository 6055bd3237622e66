"""Domains as plug-ins: each bundles parsing, error rules, verification, rendering and prompts.

The flow never looks inside a domain: it hands a batch of problems to `run_batch`, which
gives each problem to the domain named by `problem.domain`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from errata.generators.domains import math
from errata.generators.domains.base import BatchResult, Domain, StageConfig
from errata.schemas.records import Problem

DOMAINS: dict[str, Domain] = {"math": math.DOMAIN}

__all__ = [
    "DOMAINS",
    "BatchResult",
    "Domain",
    "StageConfig",
    "check_error_types",
    "error_types",
    "run_batch",
]


def error_types() -> tuple[str, ...]:
    """Every error type some domain has a rule for, in the domains' order."""
    return tuple(t for domain in DOMAINS.values() for t in domain.error_types)


def check_error_types(requested: Iterable[str]) -> tuple[str, ...]:
    """The requested error types, or ValueError naming the unknown ones and the allowed set."""
    wanted = tuple(dict.fromkeys(t.strip() for t in requested if t.strip()))
    allowed = error_types()
    unknown = [t for t in wanted if t not in allowed]
    if unknown:
        raise ValueError(
            f"--error-types: no rule for {', '.join(unknown)}; expected any of {', '.join(allowed)}"
        )
    if not wanted:
        raise ValueError(f"--error-types: none given; expected any of {', '.join(allowed)}")
    return wanted


def domain_of(problem: Problem) -> Domain:
    try:
        return DOMAINS[problem.domain]
    except KeyError:
        raise ValueError(f"problem {problem.problem_id}: no domain {problem.domain!r}") from None


def run_batch(
    problems: Sequence[Problem], config: StageConfig, run_id: str, endpoint: Any = None
) -> BatchResult:
    """Every stage of each problem's domain over one batch; results merged in domain order.

    `endpoint` (an errata.generators.llm Endpoint) is needed only when the config's LLM
    settings ask for a model."""
    by_domain: dict[str, list[Problem]] = {}
    for problem in problems:
        by_domain.setdefault(domain_of(problem).name, []).append(problem)
    results = [
        DOMAINS[name].run_batch(group, config, run_id, endpoint)
        for name, group in by_domain.items()
    ]
    return BatchResult.merge(results)
