"""Benchmarks: the success criteria measured side by side (see issue "Benchmarks")."""
