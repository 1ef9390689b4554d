"""Reports: plots (plots.py), BENCHMARKS.md and benchmarks.json (benchmarks.py), audit (audit.py)."""
