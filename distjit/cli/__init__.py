"""The `distjit` command: reading a model and its inputs, running it here or as a Ray job, drawing it."""
from distjit.cli.commands import main  # noqa: F401
