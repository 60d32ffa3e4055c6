"""dlib's ResNet face encoder (face_recognition_models' dlib_face_recognition_resnet_model_v1.dat) run by OpenCV's
DNN engine: the same network with the same weights, read from the installed model file at load time, built as
an ONNX graph in memory. ~16 CPU ms a face against dlib's ~26 (one thread each, docs/performance.md), with
encodings within ~1e-6 of dlib's (float32 sums in another order); loading takes ~0.25 CPU s against dlib's 0.08.

The topology is dlib's (dlib/examples/dnn_face_recognition_ex.cpp): a 7x7/2 convolution, a 3x3/2 max pool,
residual blocks of two 3x3 convolutions, each followed by dlib's affine layer; a block that halves the plane
adds a 2x2/2 average pool of its input, and dlib's add pads the smaller operand with zeros (fewer channels, or
one row and column fewer where a 3x3/2 convolution without padding gives a smaller plane than the pool); then
the mean over the plane and a 256 -> 128 product without bias. The file gives the weights and the order of
layer kinds; any other order is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from services.identity.dlib_weights import (
    AddPrev,
    Affine,
    Conv,
    Dense,
    Layer,
    ModelFileError,
    Net,
    Pool,
    Relu,
    read_net,
)
from services.identity.onnx_bytes import Graph

BATCH = 16  # chips a forward pass: dlib's own batch; the first layer's output is then 10 MB


def _size(n: int, kernel: int, stride: int, pad: int) -> int:
    return (n + 2 * pad - kernel) // stride + 1  # dlib's and ONNX's (floor) output size


class _Builder:
    def __init__(self, net: Net, name: str) -> None:
        self.graph = Graph("chips", ("n", 3, *net.input.size))
        self.layers = net.layers
        self.name = name
        self.at = 0

    def take(self, kind: type) -> Layer:
        if self.at >= len(self.layers) or not isinstance(self.layers[self.at], kind):
            got = type(self.layers[self.at]).__name__ if self.at < len(self.layers) else "the end"
            raise ModelFileError(f"{self.name}: layer {self.at} is {got}, expected {kind.__name__}: not the layout "
                                 "of dlib's ResNet face encoder")
        self.at += 1
        return self.layers[self.at - 1]

    def conv_affine(self, x: str, size: tuple[int, int]) -> tuple[str, int, tuple[int, int]]:
        """A convolution and the affine layer after it, as one convolution: the affine's scale folded into the
        filters and its shift into the bias (in float64, then float32)."""
        conv = self.take(Conv)
        affine = self.take(Affine)
        assert isinstance(conv, Conv) and isinstance(affine, Affine)
        g = affine.gamma.astype(np.float64)
        w = (conv.filters.astype(np.float64) * g[:, None, None, None]).astype(np.float32)
        b = (conv.bias.astype(np.float64) * g + affine.beta).astype(np.float32)
        k = self.graph.node("Conv", [x, self.graph.constant(f"w{self.at}", w), self.graph.constant(f"b{self.at}", b)],
                            kernel_shape=list(w.shape[2:]), strides=list(conv.stride),
                            pads=[conv.padding[0], conv.padding[1], conv.padding[0], conv.padding[1]])
        out = tuple(_size(size[i], w.shape[2 + i], conv.stride[i], conv.padding[i]) for i in range(2))
        return k, w.shape[0], (out[0], out[1])

    def block(self, x: str, channels: int, size: tuple[int, int]) -> tuple[str, int, tuple[int, int]]:
        y, c, ysize = self.conv_affine(x, size)
        self.take(Relu)
        y, c, ysize = self.conv_affine(self.graph.node("Relu", [y]), ysize)
        shortcut, sc_channels, sc_size = x, channels, size
        if isinstance(self.layers[self.at], Pool):
            pool = self.take(Pool)
            assert isinstance(pool, Pool)
            if pool.kind != "avg" or pool.padding != (0, 0):
                raise ModelFileError(f"{self.name}: layer {self.at - 1}: a {pool.kind} pool with padding "
                                     f"{pool.padding} on a shortcut, expected an average pool without padding")
            shortcut = self.graph.node("AveragePool", [x], kernel_shape=list(pool.size), strides=list(pool.stride))
            sc_size = (_size(size[0], pool.size[0], pool.stride[0], 0), _size(size[1], pool.size[1], pool.stride[1], 0))
        self.take(AddPrev)
        self.take(Relu)
        if sc_channels > c:
            raise ModelFileError(f"{self.name}: layer {self.at}: a shortcut of {sc_channels} channels onto {c}")
        if sc_channels < c:  # dlib's add: the missing channels are zeros; an identity 1x1 convolution adds them
            eye = np.zeros((c, sc_channels, 1, 1), np.float32)
            eye[np.arange(sc_channels), np.arange(sc_channels)] = 1.0
            shortcut = self.graph.node("Conv", [shortcut, self.graph.constant(f"eye{self.at}", eye)],
                                       kernel_shape=[1, 1])
        out = (max(ysize[0], sc_size[0]), max(ysize[1], sc_size[1]))
        y = self._pad_to(y, ysize, out)
        shortcut = self._pad_to(shortcut, sc_size, out)
        return self.graph.node("Relu", [self.graph.node("Add", [shortcut, y])]), c, out

    def _pad_to(self, x: str, size: tuple[int, int], out: tuple[int, int]) -> str:
        """Zeros below and right of a smaller plane: where dlib's add has only the other operand."""
        if size == out:
            return x
        pads = np.array([0, 0, 0, 0, 0, 0, out[0] - size[0], out[1] - size[1]], np.int64)
        return self.graph.node("Pad", [x, self.graph.constant(f"pad{self.at}", pads)])

    def build(self) -> bytes:
        g = self.graph
        x, c, size = self.conv_affine("chips", (int(g.input_shape[2]), int(g.input_shape[3])))
        self.take(Relu)
        pool = self.take(Pool)
        assert isinstance(pool, Pool)
        if pool.kind != "max" or pool.padding != (0, 0):
            raise ModelFileError(f"{self.name}: the stem's pool is a {pool.kind} pool with padding {pool.padding}")
        x = g.node("MaxPool", [g.node("Relu", [x])], kernel_shape=list(pool.size), strides=list(pool.stride))
        size = (_size(size[0], pool.size[0], pool.stride[0], 0), _size(size[1], pool.size[1], pool.stride[1], 0))
        while self.at < len(self.layers) and isinstance(self.layers[self.at], Conv):
            x, c, size = self.block(x, c, size)
        pool = self.take(Pool)
        assert isinstance(pool, Pool)
        if pool.kind != "avg" or pool.size != (0, 0):
            raise ModelFileError(f"{self.name}: layer {self.at - 1}: expected dlib's average over the whole plane")
        dense = self.take(Dense)
        assert isinstance(dense, Dense)
        if self.at != len(self.layers) or dense.bias is not None or dense.weights.shape[0] != c:
            raise ModelFileError(f"{self.name}: the last layer is not a {c} -> n product without bias")
        x = g.node("Flatten", [g.node("GlobalAveragePool", [x])])
        x = g.node("MatMul", [x, g.constant("fc", dense.weights)])
        return g.to_bytes(x, ("n", dense.weights.shape[1]))


def encoder_onnx(net: Net, name: str = "model") -> bytes:
    """The ONNX model (bytes) of dlib's face encoder whose layers are `net`; its input is "chips", float32
    (n, 3, rows, cols), already shifted and scaled as `chip_tensor` does. ModelFileError if the layers are not
    laid out as dlib's encoder."""
    return _Builder(net, name).build()


def _read(model_file: Path) -> Net:
    try:
        data = model_file.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{model_file}: cannot read dlib's face encoder model ({exc.strerror})") from None
    return read_net(data, str(model_file))


class OpenCVEncoder:
    """dlib's face encoder in OpenCV's DNN engine. One per process; not thread-safe (one net, one input)."""

    def __init__(self, model_file: Path) -> None:
        """ModelFileError (a ValueError) naming `model_file` when it is missing or not dlib's encoder: a face
        worker builds this as it starts (workers.py), which is the only check of the file and its only read."""
        import cv2

        net = _read(model_file)
        self._means = np.array(net.input.means, np.float32)
        self._size = net.input.size
        self._net = cv2.dnn.readNetFromONNX(np.frombuffer(encoder_onnx(net, str(model_file)), np.uint8),
                                            cv2.dnn.ENGINE_CLASSIC)

    def chip_tensor(self, chips: list[np.ndarray]) -> np.ndarray:
        """RGB uint8 chips (rows, cols, 3) as the net's input, shape (n, 3, rows, cols): dlib's own arithmetic,
        (pixel - mean) / 256 in float32."""
        for i, c in enumerate(chips):
            if c.shape != (*self._size, 3) or c.dtype != np.uint8:
                raise ValueError(f"chip {i}: {c.dtype} {c.shape}, expected uint8 {(*self._size, 3)}")
        x = (np.stack(chips).astype(np.float32) - self._means) / np.float32(256.0)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def encode(self, chips: list[np.ndarray]) -> np.ndarray:
        """128-d encodings of 150x150 RGB chips (dlib.get_face_chip's), float64 (n, 128)."""
        out = [np.zeros((0, 128))]
        for i in range(0, len(chips), BATCH):
            self._net.setInput(self.chip_tensor(chips[i:i + BATCH]))
            out.append(self._net.forward().astype(np.float64))
        return np.concatenate(out)
