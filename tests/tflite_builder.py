"""A small test-only TFLite flatbuffer writer (LiteRT's generated object API), to make
single-op (or small) int8 .tflite models whose outputs LiteRT's reference kernels give.

    b = TfliteWriter()
    x = b.tensor("x", (1, 4, 4, 3), "int8", scale=0.1, zero_point=-3)
    y = b.tensor("y", (1, 4, 4, 3), "int8", scale=1 / 256, zero_point=-128)
    b.op("LOGISTIC", [x], [y])
    data = b.finish([x], [y])                 # bytes of a .tflite file
    out = run_reference(data, {x: q})[y]      # LiteRT with OpResolverType.BUILTIN_REF
"""
from __future__ import annotations

import flatbuffers
import numpy as np

TYPES = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "int16": 7, "int8": 9}
# builtin op -> (options table name in BuiltinOptions, options class name) when it takes options
OPTIONS = {
    "ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "CONCATENATION": "ConcatenationOptions",
    "LEAKY_RELU": "LeakyReluOptions", "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "PAD": "PadOptions", "PADV2": "PadV2Options", "HARD_SWISH": "HardSwishOptions", "SOFTMAX": "SoftmaxOptions",
    "RESHAPE": "ReshapeOptions", "TRANSPOSE": "TransposeOptions", "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions", "FULLY_CONNECTED": "FullyConnectedOptions",
}


def schema():
    from ai_edge_litert import schema_py_generated as s
    return s


class TfliteWriter:
    def __init__(self) -> None:
        s = schema()
        self.s = s
        self.tensors: list = []
        self.buffers: list = [s.BufferT()]  # buffer 0: the empty buffer of activations
        self.operators: list = []
        self.codes: dict[str, int] = {}
        self.code_list: list = []

    def tensor(self, name: str, shape, dtype: str = "int8", scale=None, zero_point=None, data=None,
               axis: int = 0) -> int:
        s = self.s
        t = s.TensorT()
        t.name, t.shape, t.type = name, np.array(shape, np.int32), TYPES[dtype]
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = np.atleast_1d(np.asarray(scale, np.float32))
            q.zeroPoint = np.atleast_1d(np.asarray(0 if zero_point is None else zero_point, np.int64))
            if len(q.zeroPoint) == 1 and len(q.scale) > 1:
                q.zeroPoint = np.repeat(q.zeroPoint, len(q.scale))
            q.quantizedDimension = axis
            t.quantization = q
        if data is not None:
            buf = s.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(np.asarray(data, dtype=dtype)).astype(
                np.dtype(dtype).newbyteorder("<")).tobytes(), np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], **options) -> None:
        """Operator `name` (BuiltinOperator); keyword options set fields of its options table
        (e.g. fusedActivationFunction=1, axis=3, alpha=0.2)."""
        s = self.s
        code = getattr(s.BuiltinOperator, name)
        if name not in self.codes:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            self.codes[name] = len(self.code_list)
            self.code_list.append(oc)
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes[name], list(inputs), list(outputs)
        if name in OPTIONS:
            opts = getattr(s, OPTIONS[name] + "T")()
            for k, v in options.items():
                if not hasattr(opts, k):
                    raise AttributeError(f"{OPTIONS[name]} has no field {k}")
                setattr(opts, k, v)
            o.builtinOptionsType = getattr(s.BuiltinOptions, OPTIONS[name])
            o.builtinOptions = opts
        elif options:
            raise ValueError(f"{name} takes no options")
        self.operators.append(o)

    def finish(self, inputs: list[int], outputs: list[int]) -> bytes:
        s = self.s
        sg = s.SubGraphT()
        sg.tensors, sg.operators, sg.inputs, sg.outputs = self.tensors, self.operators, list(inputs), list(outputs)
        m = s.ModelT()
        m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, self.code_list, [sg], self.buffers
        m.description = "edgekiln test model"
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def run_reference(model: bytes, feeds: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Every output tensor of one invocation with LiteRT's reference kernels (BUILTIN_REF)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for index, value in feeds.items():
        it.set_tensor(index, value)
    it.invoke()
    return {d["index"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
