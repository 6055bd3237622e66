"""The public API: the knobs, problem `index` of a config's stream, and the first `n`."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from errata.generators.sources.synthetic.openings import _choose_scene, _opening
from errata.generators.sources.synthetic.operations import _next_operation
from errata.generators.sources.synthetic.rendering import _ask
from errata.generators.sources.synthetic.story import _Story
from errata.generators.sources.synthetic.vocabulary import FRAMES
from errata.schemas.ids import problem_id
from errata.schemas.records import Problem

SOURCE = "synthetic"
LICENSE = "CC0-1.0"
GENERATOR_VERSION = "1"
MAX_NUMBER = 1_000
MAX_OPS = 20


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs: how many operations (= solution steps) and which numbers the question may give."""

    n_ops_min: int = 2
    n_ops_max: int = 5
    number_min: int = 2
    number_max: int = 20
    seed: int = 0


def check_config(config: SyntheticConfig) -> None:
    """Raise ValueError for knobs the generator cannot honour."""
    if not 1 <= config.n_ops_min <= config.n_ops_max <= MAX_OPS:
        raise ValueError(f"need 1 <= n_ops_min <= n_ops_max <= {MAX_OPS}, got {config}")
    if not 1 <= config.number_min <= config.number_max <= MAX_NUMBER:
        raise ValueError(f"need 1 <= number_min <= number_max <= {MAX_NUMBER}, got {config}")


# Same output as schemas.ids.canonical_json; one encoder object saves its set-up per problem.
_encode_metadata = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":")
).encode


def make_problem(index: int, config: SyntheticConfig = SyntheticConfig()) -> Problem:
    """Problem `index` of the stream for `config`; depends only on (config, index)."""
    # A string seed is hashed (SHA-512) by `random`, so this is stable across runs and machines
    # and cheaper than item_seed, which matters at thousands of problems per second.
    rng = random.Random(f"{SOURCE}:{config.seed}:{index}")
    n_ops = rng.randint(config.n_ops_min, config.n_ops_max)
    st = _Story(rng=rng, lo=config.number_min, hi=config.number_max, ops_left=n_ops)
    scene = _choose_scene(rng, st.lo, st.hi)
    if rng.random() < 0.3:
        st.sentences.append(rng.choice(FRAMES[scene.domain]))
    _opening(st, scene)
    while st.ops_left > 0:
        _next_operation(st)
    answer = st.q.value
    st.sentences.append(_ask(st))
    solution = "\n".join([*st.steps, f"#### {answer}"])
    # The knobs are part of the identity: the same seed and index with other knobs is
    # another problem.
    knobs = f"ops{config.n_ops_min}-{config.n_ops_max}_num{config.number_min}-{config.number_max}"
    source_id = f"{config.seed}-{knobs}-{index}"
    metadata = {
        "generator": f"{SOURCE}/{GENERATOR_VERSION}",
        "index": index,
        "knobs": {
            "n_ops_min": config.n_ops_min,
            "n_ops_max": config.n_ops_max,
            "number_min": config.number_min,
            "number_max": config.number_max,
            "seed": config.seed,
        },
        "n_ops": n_ops,
        "domain": scene.domain,
        "program": st.program,
    }
    return Problem(
        problem_id=problem_id(SOURCE, source_id),
        source=SOURCE,
        source_id=source_id,
        split="train",
        domain="math",
        question=" ".join(st.sentences),
        reference_solution=solution,
        reference_answer=str(answer),
        license=LICENSE,
        metadata=_encode_metadata(metadata),
    )


def generate(n: int, config: SyntheticConfig = SyntheticConfig()) -> list[Problem]:
    """The first `n` problems for `config`; generate(5) is a prefix of generate(10)."""
    check_config(config)
    return [make_problem(index, config) for index in range(n)]
