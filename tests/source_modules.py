"""Functions made from source text in real files: the script frontend reads a function's source, so generated
programs must live in a module it can read (`inspect.getsource`)."""
from __future__ import annotations

import importlib.util
import itertools
import tempfile
from pathlib import Path

_DIR = Path(tempfile.mkdtemp(prefix="distjit_generated_"))
_modules = itertools.count()


def load_source(source: str, name: str = "f", prefix: str = "prog"):
    """The function `name` of `source` (with `import numpy as np` before it), from a new module file."""
    path = _DIR / f"{prefix}_{next(_modules)}.py"
    path.write_text("import numpy as np\n\n" + source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)
