"""Benchmarks and load generators; each is bounded in count and time."""
