"""Partitioning: shard a graph's values along an axis, cut it into tasks, and build the Plan executors run."""
from distjit.partition.partition import partition  # noqa: F401
from distjit.partition.plan import InputLayout, Output, Plan, PlanWarning, Source, Task  # noqa: F401
from distjit.partition.stages import CostModel  # noqa: F401

__all__ = ["partition", "Plan", "Task", "Source", "Output", "InputLayout", "PlanWarning", "CostModel"]
