"""Reads a dlib DNN file (dlib's own binary serialization, dlib/serialize.h and dlib/dnn/*.h) into its layers'
parameters, in the order data flows (input first), so that the same network can run in another engine.

dlib writes a net as nested layers: the loss, then one version number per layer from the output inward, then the
input layer, then each layer's details from the input outward, each followed by its training state (flags and
tensors that inference ignores). Integers are a control byte (sign bit 0x80, byte count in the low 4 bits) and
that many little-endian bytes; floats are a mantissa and an exponent, both integers; strings a length and bytes;
tensors raw little-endian float32. Only the layer kinds of dlib's ResNet face encoder are understood; any other
content is refused by name and byte offset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TAG_OR_SKIP_VERSION = 1  # add_tag_layer and add_skip_layer write a version 1 and nothing else


class ModelFileError(ValueError):
    """The file is not a dlib net of the kinds read here (or is cut short)."""


@dataclass(frozen=True)
class Input:
    means: tuple[float, float, float]  # red, green, blue, subtracted before dividing by 256
    size: tuple[int, int]  # rows, columns


@dataclass(frozen=True)
class Conv:
    filters: np.ndarray  # float32 (out, in, rows, cols)
    bias: np.ndarray  # float32 (out,)
    stride: tuple[int, int]  # y, x
    padding: tuple[int, int]  # y, x, on both sides


@dataclass(frozen=True)
class Affine:
    gamma: np.ndarray  # float32 (channels,): y = gamma * x + beta, per channel
    beta: np.ndarray


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" or "avg"
    size: tuple[int, int]  # rows, cols; (0, 0): the whole plane (avg_pool_everything)
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Relu:
    pass


@dataclass(frozen=True)
class AddPrev:
    """Adds the output of an earlier layer (which one is the net's definition, not the file's)."""


@dataclass(frozen=True)
class Dense:
    weights: np.ndarray  # float32 (inputs, outputs): y = x @ weights
    bias: np.ndarray | None


Layer = Conv | Affine | Pool | Relu | AddPrev | Dense


@dataclass(frozen=True)
class Net:
    input: Input
    layers: list[Layer]  # input to output


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.pos = data, name, 0

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.name}: {what} at byte {self.pos} (not a dlib face encoder file, or damaged)")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"file ends early: {n} bytes wanted")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def integer(self) -> int:
        control = self.take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte {control:#04x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if exponent >= 32000:  # dlib's codes for inf, -inf, nan
            raise self.fail("a non-finite number")
        return float(np.ldexp(np.float64(mantissa), exponent))

    def string(self) -> str:
        raw = self.take(self.integer())
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise self.fail("a layer name that is not text") from None

    def flag(self) -> bool:
        c = self.take(1)
        if c not in (b"0", b"1"):
            raise self.fail(f"bad bool byte {c!r}")
        return c == b"1"

    def shape(self) -> tuple[int, ...]:
        if self.integer() != 1:
            raise self.fail("bad alias_tensor version")
        return tuple(self.integer() for _ in range(4))

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise self.fail("bad tensor version")
        dims = tuple(self.integer() for _ in range(4))
        if min(dims) < 0:
            raise self.fail(f"negative tensor shape {dims}")
        count = int(np.prod(dims))
        return np.frombuffer(self.take(4 * count), dtype="<f4").reshape(dims).astype(np.float32)

    def expect(self, value: int, what: str) -> None:
        got = self.integer()
        if got != value:
            raise self.fail(f"{what} {got}, expected {value}")


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """dlib keeps a layer's parameters in one tensor; alias tensors cut it in order."""
    flat, out, at = params.reshape(-1), [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(flat[at:at + n].reshape(s))
        at += n
    return out


def _details(r: _Reader) -> Layer:
    start = r.pos
    kind = r.string()
    if kind in ("con_4", "con_5", "con_6"):
        params = r.tensor()
        filters, rows, cols = r.integer(), r.integer(), r.integer()
        stride = (r.integer(), r.integer())
        padding = (r.integer(), r.integer())
        w_shape, b_shape = r.shape(), r.shape()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.real()
        use_bias = r.flag() if kind != "con_4" else True
        if kind == "con_6":
            r.flag()  # use_relu: a fused relu of dlib's CUDA path; a relu layer follows anyway in these nets
        if w_shape[0] != filters or w_shape[2:] != (rows, cols) or params.size < np.prod(w_shape):
            raise ModelFileError(f"{r.name}: convolution at byte {start}: filter shape {w_shape} does not match "
                                 f"{filters} filters of {rows}x{cols} and {params.size} parameters")
        w, b = _split(params, w_shape, b_shape) if use_bias else (_split(params, w_shape)[0], None)
        bias = b.reshape(-1) if b is not None else np.zeros(filters, np.float32)
        return Conv(w, bias, stride, padding)
    if kind in ("affine_", "affine_2"):
        params = r.tensor()
        g_shape, b_shape = r.shape(), r.shape()
        if r.integer() != 0:  # CONV_MODE (0): one gamma per channel; FC_MODE (1) is one per input element
            raise r.fail("an affine layer in fc mode")
        if kind == "affine_2":
            r.flag()
        gamma, beta = _split(params, g_shape, b_shape)
        return Affine(gamma.reshape(-1), beta.reshape(-1))
    if kind in ("max_pool_2", "avg_pool_2"):
        size = (r.integer(), r.integer())
        stride = (r.integer(), r.integer())
        padding = (r.integer(), r.integer())
        return Pool(kind[:3], size, stride, padding)
    if kind in ("relu_", "relu_2"):
        if kind == "relu_2":
            r.flag()
        return Relu()
    if kind == "add_prev_":
        return AddPrev()
    if kind in ("fc_2", "fc_3"):
        outputs, inputs = r.integer(), r.integer()
        params = r.tensor()
        w_shape, b_shape = r.shape(), r.shape()
        bias_mode = r.integer()  # FC_HAS_BIAS 0, FC_NO_BIAS 1
        for _ in range(4):
            r.real()
        if kind == "fc_3":
            r.flag()
        if w_shape[:2] != (inputs, outputs):
            raise ModelFileError(f"{r.name}: fc layer at byte {start}: weights {w_shape}, expected ({inputs}, "
                                 f"{outputs}, ...)")
        w = _split(params, w_shape)[0].reshape(inputs, outputs)
        bias = None if bias_mode == 1 else _split(params, w_shape, b_shape)[1].reshape(-1)
        return Dense(w, bias)
    raise ModelFileError(f"{r.name}: layer kind {kind!r} at byte {start} is not one of dlib's face encoder's")


def read_net(data: bytes, name: str = "model") -> Net:
    """The layers of a dlib DNN file's bytes; `name` (the file's path) names it in errors.
    Raises ModelFileError if the bytes are not such a net."""
    r = _Reader(data, name)
    r.expect(1, "loss layer version")
    loss = r.string()
    if loss not in ("loss_metric_", "loss_metric_2"):
        raise r.fail(f"loss {loss!r}, not loss_metric")
    if loss == "loss_metric_2":  # stores its margin and distance threshold
        r.real()
        r.real()
    chain: list[int] = []
    while True:  # one version per nested layer, output inward, up to the input layer's name
        at = r.pos
        try:
            if r.string() == "input_rgb_image_sized":
                break
        except ModelFileError:
            pass
        r.pos = at
        chain.append(r.integer())
        if len(chain) > 10_000:
            raise r.fail("no input layer")
    means = (r.real(), r.real(), r.real())
    size = (r.integer(), r.integer())
    versions = [v for v in chain if v != _TAG_OR_SKIP_VERSION][::-1]  # add_layers, input outward
    if not versions:
        raise r.fail("no layers")
    layers: list[Layer] = []
    for i, version in enumerate(versions):
        layers.append(_details(r))
        for _ in range(3):  # setup called, gradient stale, gradient disabled
            r.flag()
        r.tensor()  # x_grad
        r.tensor()  # cached_output
        if i == 0:
            r.tensor()  # grad_final
            if version >= 3:
                r.integer()  # sample expansion factor
        elif version >= 2:
            r.tensor()  # params_grad
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos} bytes after the last layer")
    return Net(Input((means[0], means[1], means[2]), size), layers)
