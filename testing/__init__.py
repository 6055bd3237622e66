"""Test doubles shipped with errata: a local OpenAI-compatible server for tests, demos and
benchmarks. Not a model: its answers are scripted fixtures."""
