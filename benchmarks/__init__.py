"""Ratio benchmarks: the engine against a bare-SQL floor, measured in one run."""
