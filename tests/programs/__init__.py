"""The shared corpus: real NumPy programs that every frontend, pass and executor is compared against (eager NumPy is the reference)."""
from tests.programs.registry import Program, PROGRAMS, CONTROL_PROGRAMS, by_name
from tests.programs import nn, finance, stats, stencils, linalg_progs, image, inplace, misc, control  # noqa: F401  (modules register their programs)
