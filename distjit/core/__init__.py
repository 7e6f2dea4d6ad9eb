"""The execution core: what every evaluator of a graph shares.

- `apply.py`: the calling convention of kernels, the one way an op is applied to values;
- `liveness.py`: the last use of each value, and what nested blocks read from outside;
- `aliasing.py`: which values may share memory, and how long a buffer stays in use;
- `buffers.py`: the one mechanism that gives a node its ``out=`` buffers, and slot sharing.

The optimizer (memory planning, constant folding), the reference interpreter, the
generated code, row blocks, fused evaluation, the partitioner and the executors ask these
modules rather than restate them. See docs/ARCHITECTURE.md, "The execution core".
"""
