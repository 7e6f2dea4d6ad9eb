"""Frontends: tracing (records what runs) and scripting (compiles Python source)."""
