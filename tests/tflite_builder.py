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
    "BATCH_MATMUL": "BatchMatMulOptions",
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


# --- an int8 IR graph as a .tflite model (tests only) ------------------------------------------
ACT_CODES = {"none": 0, "relu": 1, "relu_n1_to_1": 2, "relu6": 3}
UNARY = {"sigmoid": "LOGISTIC", "tanh": "TANH", "hard_swish": "HARD_SWISH"}


def _padding(attrs: dict, in_hw, k_hw) -> int:
    """TFLite's padding code (0 SAME, 1 VALID) giving the IR's explicit pads, else an error."""
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if not any(pads):
        return 1
    strides, dil = attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1])
    same = []
    for size, k, s, d in zip(in_hw, k_hw, strides, dil):
        out = (size + s - 1) // s
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        same.append((total // 2, total - total // 2))
    if pads == [same[0][0], same[1][0], same[0][1], same[1][1]]:
        return 0
    raise ValueError(f"pads {pads} are neither SAME nor VALID")


def ir_to_tflite(graph) -> tuple[bytes, dict[str, int]]:
    """(the .tflite bytes, {IR tensor name: TFLite tensor index}) of a 2-D int8 IR graph."""
    w = TfliteWriter()
    index: dict[str, int] = {}

    def t(name: str) -> int:
        if name in index:
            return index[name]
        if name in graph.constants:
            c = graph.constants[name]
            q = c.quant
            dtype = "int32" if c.data.dtype == np.int32 else "int8"
            index[name] = w.tensor(name, c.data.shape, dtype, q.scale if q else None, q.zero_point if q else None,
                                   data=c.data, axis=q.axis or 0 if q else 0)
        else:
            v = graph.value(name)
            index[name] = w.tensor(name, v.dims, "int8", v.quant.scale, v.quant.zero_point)
        return index[name]

    for n in graph.nodes:
        a = n.attrs
        out = [t(n.outputs[0])]
        act = ACT_CODES[a.get("activation", "none")]
        if n.op == "conv":
            x, wt = graph.value(n.inputs[0]), graph.constants[n.inputs[1]]
            o, kh, kw, cg = wt.data.shape
            pad = _padding(a, x.dims[1:3], (kh, kw))
            ins = [t(n.inputs[0])]
            if a.get("group", 1) == 1:
                ins += [t(n.inputs[1])] + [t(i) for i in n.inputs[2:]]
                w.op("CONV_2D", ins, out, padding=pad, strideH=a["strides"][0], strideW=a["strides"][1],
                     dilationHFactor=a["dilations"][0], dilationWFactor=a["dilations"][1], fusedActivationFunction=act)
            else:
                q = wt.quant
                dw = w.tensor(n.inputs[1], (1, kh, kw, o), "int8", q.scale, q.zero_point,
                              data=np.transpose(wt.data, (3, 1, 2, 0)), axis=3)
                index[n.inputs[1]] = dw
                w.op("DEPTHWISE_CONV_2D", ins + [dw] + [t(i) for i in n.inputs[2:]], out, padding=pad,
                     strideH=a["strides"][0], strideW=a["strides"][1], depthMultiplier=o // a["group"],
                     dilationHFactor=a["dilations"][0], dilationWFactor=a["dilations"][1], fusedActivationFunction=act)
        elif n.op == "fully_connected":
            w.op("FULLY_CONNECTED", [t(i) for i in n.inputs], out, fusedActivationFunction=act,
                 keepNumDims=bool(a.get("keep_num_dims")))
        elif n.op in ("avg_pool", "max_pool"):
            x = graph.value(n.inputs[0])
            pad = _padding(a, x.dims[1:3], a["kernel"])
            w.op("AVERAGE_POOL_2D" if n.op == "avg_pool" else "MAX_POOL_2D", [t(n.inputs[0])], out, padding=pad,
                 strideH=a["strides"][0], strideW=a["strides"][1], filterHeight=a["kernel"][0],
                 filterWidth=a["kernel"][1], fusedActivationFunction=act)
        elif n.op == "reshape":
            shape = w.tensor(f"{n.name}_shape", (len(a["shape"]),), "int32", data=np.array(a["shape"], np.int32))
            w.op("RESHAPE", [t(n.inputs[0]), shape], out, newShape=list(a["shape"]))
        elif n.op == "softmax":
            w.op("SOFTMAX", [t(n.inputs[0])], out, beta=float(a.get("beta", 1.0)))
        elif n.op in ("add", "sub", "mul"):
            w.op(n.op.upper(), [t(i) for i in n.inputs], out, fusedActivationFunction=act)
        elif n.op == "matmul":
            w.op("BATCH_MATMUL", [t(i) for i in n.inputs], out)
        elif n.op in UNARY:
            w.op(UNARY[n.op], [t(n.inputs[0])], out)
        elif n.op == "leaky_relu":
            w.op("LEAKY_RELU", [t(n.inputs[0])], out, alpha=float(a["alpha"]))
        elif n.op in ("relu", "clip"):
            bounds = (0.0, np.inf) if n.op == "relu" else (a.get("min"), a.get("max"))
            w.op({(0.0, np.inf): "RELU", (0.0, 6.0): "RELU6", (-1.0, 1.0): "RELU_N1_TO_1"}[bounds], [t(n.inputs[0])], out)
        elif n.op == "pad":
            r = len(graph.value(n.inputs[0]).dims)
            p = np.array([[a["pads"][i], a["pads"][i + r]] for i in range(r)], np.int32)
            w.op("PAD", [t(n.inputs[0]), w.tensor(f"{n.name}_pads", p.shape, "int32", data=p)], out)
        elif n.op == "concat":
            w.op("CONCATENATION", [t(i) for i in n.inputs], out, axis=int(a["axis"]))
        elif n.op == "transpose":
            perm = np.array(a["perm"], np.int32)
            w.op("TRANSPOSE", [t(n.inputs[0]), w.tensor(f"{n.name}_perm", perm.shape, "int32", data=perm)], out)
        else:
            raise ValueError(f"no TFLite op for IR op {n.op}")
    ins, outs = [t(v.name) for v in graph.inputs], [t(v.name) for v in graph.outputs]
    return w.finish(ins, outs), index


def run_reference_all(model: bytes, feeds: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Every tensor LiteRT keeps (experimental_preserve_all_tensors) after one invocation."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    for index, value in feeds.items():
        it.set_tensor(index, value)
    it.invoke()
    return {d["index"]: it.get_tensor(d["index"]) for d in it.get_tensor_details()}
