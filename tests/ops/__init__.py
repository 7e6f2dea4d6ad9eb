"""Tests of the op registry: every op against eager NumPy."""
