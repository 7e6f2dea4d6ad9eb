"""Benchmarks of distjit against eager NumPy: `python -m bench` (see bench/README.md)."""
