"""The running example of docs/ARCHITECTURE.md: one small NumPy program printed after every stage.

`python docs/running_example.py` prints every stage; `--write` puts the output into
ARCHITECTURE.md between its `<!-- stage: NAME -->` markers. tests/test_architecture_doc.py checks that
the document shows what the code prints, so the document cannot drift from the code. Its plan is
made with the cost model's reference calibration (DISTJIT_CALIBRATION=reference), so the shards and
stages it shows do not depend on the machine that prints them.
"""
import os
import pathlib
import re
import sys
import tempfile

import numpy as np

os.environ.setdefault("DISTJIT_CALIBRATION", "reference")
import distjit  # noqa: E402


def scores(x, w, b):
    h = np.tanh(x @ w + b)
    return h - h.mean(axis=0)


def stages() -> dict[str, str]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 4))
    w = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    out = {}
    f = distjit.trace(scores, (x, w, b))
    out["trace"] = str(f.graph)
    g = distjit.optimize(f)
    out["optimize"] = str(g.graph)
    plan = g.plan(workers=2, shard={"x": 0})
    out["plan"] = plan.explain()
    out["task"] = str(plan.subgraphs[plan.tasks[0].subgraph])
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "scores.djit"
        distjit.save(g, path)
        h = distjit.load(path)
        out["load"] = "same text IR after save and load: " + str(str(h.graph) == str(g.graph))
    got = g.run(x, w, b, cluster="local", shard={"x": 0})
    out["run"] = "matches NumPy: " + str(bool(np.allclose(got, scores(x, w, b), rtol=1e-12, atol=1e-12)))
    here = str(pathlib.Path(__file__).resolve().parent.parent) + "/"
    return {name: text.replace(here, "") for name, text in out.items()}


def fill(doc: str, outputs: dict[str, str]) -> str:
    """The document with each stage's block replaced by what the code prints now."""
    def block(m):
        name = m.group(1)
        return f"<!-- stage: {name} -->\n```\n{outputs[name].rstrip()}\n```"
    return re.sub(STAGE, block, doc)


DOC = pathlib.Path(__file__).with_name("ARCHITECTURE.md")
STAGE = re.compile(r"<!-- stage: (\w+) -->\n```\n((?:(?!```).*\n)*)```")   # a marker, then its (maybe empty) block

if __name__ == "__main__":
    outputs = stages()
    if "--write" in sys.argv:
        DOC.write_text(fill(DOC.read_text(), outputs))
    else:
        for name, text in outputs.items():
            print(f"== {name}\n{text}\n")
