"""Attempts: solution texts (sampled by an LLM or replayed from a file) as verified records.

`attempts` verifies a text against its problem; `replay` reads solutions sampled elsewhere.
"""
