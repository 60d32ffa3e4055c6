"""A minimal ONNX model writer: the protobuf wire format of the few ONNX messages a feed-forward float32 graph
needs (model, graph, node, attribute, tensor, value info), so that OpenCV's DNN engine can read a net we build
from weights held elsewhere, without the `onnx` package. Field numbers are those of onnx/onnx.proto."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

_FLOAT, _INT64 = 1, 7  # TensorProto.DataType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7  # AttributeProto.AttributeType
IR_VERSION = 7
OPSET = 13


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 fields: two's complement, ten bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _bytes(number: int, value: bytes) -> bytes:
    return _key(number, 2) + _varint(len(value)) + value


def _str(number: int, value: str) -> bytes:
    return _bytes(number, value.encode())


def _tensor(name: str, array: np.ndarray) -> bytes:
    """Integer arrays as int64 (shapes, pads), the rest as float32."""
    integer = np.issubdtype(array.dtype, np.integer)
    a = np.ascontiguousarray(array, dtype="<i8" if integer else "<f4")
    return (b"".join(_int(1, d) for d in a.shape) + _int(2, _INT64 if integer else _FLOAT) + _str(8, name)
            + _bytes(9, a.tobytes()))


def _attribute(name: str, value: int | float | list[int]) -> bytes:
    if isinstance(value, list):
        return _str(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    if isinstance(value, float):
        return _str(1, name) + _key(2, 5) + struct.pack("<f", value) + _int(20, _ATTR_FLOAT)
    return _str(1, name) + _int(3, value) + _int(20, _ATTR_INT)


def _value_info(name: str, shape: tuple[int | str, ...]) -> bytes:
    dims = b"".join(_bytes(1, _str(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, _FLOAT) + _bytes(2, dims)
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))


@dataclass
class Graph:
    """Nodes in order, their float32 constants, one input and one output; `to_bytes` gives the model."""

    input: str
    input_shape: tuple[int | str, ...]
    nodes: list[bytes] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)
    _count: int = 0

    def constant(self, name: str, array: np.ndarray) -> str:
        """A constant input named `name`: int64 if `array` is of integers, float32 otherwise."""
        self.initializers.append(_tensor(name, array))
        return name

    def node(self, op: str, inputs: list[str], **attributes: int | float | list[int]) -> str:
        """Appends an `op` node reading `inputs`; returns the name of its one output."""
        self._count += 1
        out = f"{op.lower()}{self._count}"
        body = (b"".join(_str(1, i) for i in inputs) + _str(2, out) + _str(3, out) + _str(4, op)
                + b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items()))
        self.nodes.append(body)
        return out

    def to_bytes(self, output: str, output_shape: tuple[int | str, ...]) -> bytes:
        graph = (b"".join(_bytes(1, n) for n in self.nodes) + _str(2, "net")
                 + b"".join(_bytes(5, t) for t in self.initializers)
                 + _bytes(11, _value_info(self.input, self.input_shape))
                 + _bytes(12, _value_info(output, output_shape)))
        return _int(1, IR_VERSION) + _bytes(7, graph) + _bytes(8, _str(1, "") + _int(2, OPSET))
