"""The generated protobuf module matches proto/distjit.proto and imports with the installed runtime."""
from distjit.serialize import regen


def test_generated_code_is_up_to_date():
    assert not regen.is_stale(), "distjit/serialize/distjit_pb2.py is out of date: run python -m distjit.serialize.regen"


def test_generated_module_imports():
    from distjit.serialize import distjit_pb2

    assert distjit_pb2.Model.DESCRIPTOR.full_name == "distjit.Model"


def test_field_numbers_are_never_reused():
    """Each message's field numbers are unique (protoc checks it too; this guards hand edits of reserved ranges)."""
    from distjit.serialize import distjit_pb2

    for message in distjit_pb2.DESCRIPTOR.message_types_by_name.values():
        numbers = [f.number for f in message.fields]
        assert len(numbers) == len(set(numbers)), message.full_name
