"""The benchmark suite (#10): ``python -m bench`` measures, ``python -m bench.report`` writes BENCHMARKS.md."""
