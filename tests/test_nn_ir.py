"""IR version 2: N-d tensors, dtypes, per-tensor/per-channel quantization, named constants;
classic graphs still write and read version 1."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgekiln.ir import Constant, Graph, Node, QuantParams, ValueInfo


def _network() -> Graph:
    q_in = QuantParams([0.5], [3])
    w = np.arange(2 * 3 * 3 * 1, dtype=np.int8).reshape(2, 3, 3, 1)
    return Graph(
        name="tiny", task="network",
        inputs=[ValueInfo.tensor("x", (1, 4, 4, 1), "int8", q_in)],
        outputs=[ValueInfo.tensor("y", (1, 2, 2, 2), "int8", QuantParams([0.25], [-128]))],
        nodes=[Node("conv", "c0", ["x", "w", "b"], ["y"], {"strides": [1, 1], "pads": [0, 0, 0, 0], "group": 1})],
        constants={"w": Constant("w", w, QuantParams([0.1, 0.2], [0, 0], axis=0)),
                   "b": Constant("b", np.array([1, -2], np.int32))},
    )


def test_network_graph_round_trips_with_shapes_dtypes_and_quantization():
    g = _network()
    doc = json.loads(g.to_json())
    assert doc["ir_version"] == 2
    g2 = Graph.from_json(g.to_json())
    assert g2.inputs[0].shape == (1, 4, 4, 1) and g2.inputs[0].dtype == "int8"
    assert g2.inputs[0].quant == QuantParams([0.5], [3]) and g2.outputs[0].nbytes == 8
    w = g2.constants["w"]
    assert w.data.dtype == np.int8 and np.array_equal(w.data, g.constants["w"].data)
    assert w.quant.per_channel and w.quant.axis == 0 and w.quant.scale == [float(np.float32(0.1)), float(np.float32(0.2))]
    assert g2.constants["b"].quant is None and g2.nodes[0].inputs == ["x", "w", "b"]
    assert g2.to_json() == g.to_json()


def test_scales_keep_their_float32_value_exactly():
    s = np.float32(0.5847029089927673)
    q = QuantParams([s], [83])
    assert np.float32(q.scale[0]) == s
    g = Graph.from_json(_network().to_json())
    assert np.float32(g.inputs[0].quant.scale[0]) == np.float32(0.5)


def test_classic_graph_stays_version_1_and_version_1_reads():
    g = Graph("m", "regress", [ValueInfo("x", 3)], [ValueInfo("value", 1)],
              [Node("linear", "l0", ["x"], ["value"], {}, {"w": np.ones(3, np.float32)})])
    doc = json.loads(g.to_json())
    assert doc["ir_version"] == 1 and "constants" not in doc
    assert doc["inputs"] == [{"name": "x", "length": 3, "dtype": "float32"}]
    assert Graph.from_json(g.to_json()).inputs[0].shape is None


def test_bad_quantization_and_shapes_are_refused():
    with pytest.raises(ValueError, match="axis"):
        QuantParams([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="zero points"):
        QuantParams([0.1], [0, 0])
    with pytest.raises(ValueError, match="elements"):
        ValueInfo("x", 5, shape=(2, 2))
    doc = json.loads(_network().to_json())
    doc["ir_version"] = 9
    with pytest.raises(ValueError, match="IR version 9"):
        Graph.from_json(json.dumps(doc))
