"""The IR: typed SSA values, nodes with nested blocks, graphs; text form and verifier."""
from distjit.ir.graph import Block, Graph, Node, SourceLoc, Value  # noqa: F401
from distjit.types import (ANY, BOOL, COMPLEX, FLOAT, INT, NONE, STR, AnyType, NoneType, Ref,  # noqa: F401
                           ScalarType, StrType, TensorType, TupleType, Type, dtype_name, parse_dtype, tensor, type_of)
from distjit.ir.type_text import parse_type  # noqa: F401
from distjit.ir.builder import Builder  # noqa: F401
