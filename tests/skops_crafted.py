"""Crafted .skops files for the loader's safety tests: each tries to run code or exhaust
memory while loading. Built here from JSON, so nothing binary is committed."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np


def _json(value) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def _tuple(*items: dict) -> dict:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(items)}


def _empty_dict() -> dict:
    return {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
            "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}}


def reduce_call(module: str, name: str, *args: dict, loader: str = "LossNode") -> dict:
    """A node that makes skops call module.name(*args) while loading."""
    return {"__class__": name, "__module__": module, "__loader__": loader, "content": _empty_dict(),
            "__reduce__": {"args": _tuple(*args)}}


def write_skops(path: Path, schema: dict | str, arrays: dict[str, bytes] | None = None) -> Path:
    """schema: a root node, or its JSON text (for nestings too deep for json.dumps)."""
    text = schema if isinstance(schema, str) else json.dumps(schema)
    head = '{"protocol": 2, "_skops_version": "0.16.0", '
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("schema.json", head + text.lstrip()[1:])
        for name, data in (arrays or {}).items():
            z.writestr(name, data)
    return path


def code_payloads(sentinel: Path) -> dict[str, dict]:
    """Root schemas that would create `sentinel` if anything ran."""
    code = f"open({str(sentinel)!r}, 'w').write('pwned')"
    return {
        "exec": reduce_call("builtins", "exec", _json(code)),
        "eval": reduce_call("builtins", "eval", _json(code)),
        "os.system": reduce_call("os", "system", _json(f"touch {sentinel}")),
        "posix.system": reduce_call("posix", "system", _json(f"touch {sentinel}")),
        "builtins.getattr": reduce_call("builtins", "getattr", _json("os"), _json("system")),
        "getattr chain via sklearn": reduce_call("sklearn.base", "os.system", _json(f"touch {sentinel}")),
        "numpy function": reduce_call("numpy", "save", _json(str(sentinel)), _json([1, 2, 3])),
        "numpy re-export of a builtin": reduce_call("numpy.lib._datasource", "open", _json(str(sentinel)), _json("w")),
        "scipy function": reduce_call("scipy.io", "savemat", _json(str(sentinel)), _empty_dict()),
        "sklearn function": reduce_call("sklearn.utils", "_joblib.dump", _json(1), _json(str(sentinel))),
        "collections class with a callable": reduce_call("collections", "defaultdict", _json(None)),
        "constructor node": {"__class__": "exec", "__module__": "builtins", "__loader__": "ConstructorFromReduceNode",
                             "content": _tuple(_json(code))},
        "function node": {"__class__": "function", "__module__": "builtins", "__loader__": "FunctionNode",
                          "content": {"module_path": "os", "function": "system"}},
        "object node of a function": {"__class__": "system", "__module__": "os", "__loader__": "ObjectNode",
                                      "content": _empty_dict()},
    }


def deep_nesting(depth: int = 20000) -> str:
    """JSON text of lists nested `depth` deep (built as text: json.dumps would recurse)."""
    open_ = '{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": ['
    return open_ * depth + json.dumps(_json(1)) + "]}" * depth


def huge_array_member(shape=(1 << 20, 1 << 20)) -> bytes:
    """An .npy header claiming 8 TiB of float64 with a few bytes behind it."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 64


def array_node(file: str) -> dict:
    return {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy",
            "file": file}
