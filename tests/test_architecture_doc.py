"""docs/ARCHITECTURE.md shows what the code prints: its running example is regenerated and compared, stage by stage."""
import importlib.util
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def _example():
    spec = importlib.util.spec_from_file_location("running_example", DOCS / "running_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _without_estimates(text: str) -> str:
    """Time estimates depend on the machine's calibration; everything else the plan prints must match."""
    return re.sub(r"(est\.? (?:compute )?|overhead |predicted |transfers )[0-9.]+ ms", r"\1# ms", text)


@pytest.mark.filterwarnings("ignore::distjit.partition.PlanWarning")
def test_the_running_example_is_what_the_code_prints():
    example = _example()
    doc = (DOCS / "ARCHITECTURE.md").read_text()
    outputs = example.stages()
    shown = dict(example.STAGE.findall(doc))
    assert set(shown) == set(outputs), "every stage the example prints is shown once in the document"
    for name, text in outputs.items():
        assert _without_estimates(shown[name].rstrip()) == _without_estimates(text.rstrip()), (
            f"docs/ARCHITECTURE.md's {name!r} stage is stale: run `python docs/running_example.py --write`")
