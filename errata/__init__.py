"""errata: mistake-correction training data for reasoning models, verified by execution.

The repository's top-level folders install as subpackages: errata.flows, errata.generators,
errata.schemas and errata.store.
"""
