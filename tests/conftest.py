"""Shared pytest configuration: make the repository root importable (``import tests.programs``, ``import distjit``)."""
import pathlib
import sys

_ROOT = str(pathlib.Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
