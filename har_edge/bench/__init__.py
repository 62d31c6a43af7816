"""Benchmarks: variants of a model measured on targets, swept over configurations, reported."""
