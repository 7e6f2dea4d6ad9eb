"""`python -m distjit ...` is the `distjit` command."""
import sys

from distjit.cli import main

sys.exit(main())
