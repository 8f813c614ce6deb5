"""Lowering of `tree_ensemble`: decision trees, random forests, extra trees (mode classify /
regress: the trees' leaf rows averaged) and boosted trees (mode boost: margin[k] = base[k] +
the leaf values of trees k, k+K, ... added in tree order, then the link: identity, exp,
sigmoid or softmax). Both layouts and both float compares (FPU, integer keys) serve all modes."""
from __future__ import annotations

import numpy as np

from edgekiln.errors import UnsupportedModelError

from ..lowering import CArray, Lowering, lowers, pack_bits, smallest_int_type


# Inline if/else code costs about 20 bytes of Thumb-2 per split (load, threshold, compare,
# flag transfer, branch) against about 10 for the table; it runs about twice as fast.
INLINE_BYTES_PER_SPLIT = 20
INLINE_MAX_BYTES = 64 * 1024
# Soft float (gap8, rv32imc), fitted to DT and RF on digits: a key computed once per
# inference costs about 4 instructions; a split computing its own key about 3.5 more.
KEY_INSTRUCTIONS = 4.0
NAN_CHECK_INSTRUCTIONS = 3.5


@lowers("tree_ensemble")
class TreeEnsemble(Lowering):
    template = "tree_ensemble.c.j2"
    kernels = ("ek_tree_predict_f32.c", "ek_argmax_f32.c")
    headers = ("ek_tree.h", "ek_argmax.h")

    def _types(self, node) -> tuple[type, type]:
        c = node.consts
        idx = np.concatenate([c["left"], c["right"], c["roots"], c["leaf_class"] if "leaf_class" in c else []])
        index_t = np.int16 if smallest_int_type(int(idx.min()), int(idx.max())) in (np.int8, np.int16) else np.int32
        n_feat = int(c["feature"].max()) + 1 if c["feature"].size else 1
        feature_t = np.uint8 if n_feat <= 256 else np.uint16
        return index_t, feature_t

    def layout(self, node) -> str:
        """"inline" (if/else code, fastest) or "table" (arrays walked by a loop, smallest).
        auto: inline while the code stays under INLINE_MAX_BYTES."""
        choice = self.options.get("tree_layout", "auto")
        if choice not in ("auto", "inline", "table"):
            from edgekiln.errors import InputError

            raise InputError(f"tree_layout must be auto, inline or table, not {choice!r}")
        if choice == "auto":
            n_splits = int(node.consts["feature"].size)
            return "inline" if n_splits * INLINE_BYTES_PER_SPLIT <= INLINE_MAX_BYTES else "table"
        return choice

    def context(self, node, graph, cid: str) -> dict:
        if self.layout(node) == "inline":
            # No FPU (options["soft_float"], set from the target): compare integer keys.
            ctx = inline_context(node, cid, bool(self.options.get("soft_float")), self.options.get("tree_keys", "auto"))
            if ctx["classify"] and ctx["forest"]:
                ctx = inline_votes(ctx, node, cid)
            return {**ctx, **boost_context(node, cid, graph), "parallel": self.cores > 1 and node.attrs["n_trees"] > 1}
        c = node.consts
        if node.attrs["mode"] == "classify" and node.attrs["n_trees"] > 1:
            return self.vote_context(node, cid)
        index_t, feature_t = self._types(node)
        arrays = {
            "feature": CArray(f"{cid}_feature", c["feature"].astype(feature_t)),
            "threshold": CArray(f"{cid}_threshold", c["threshold"]),
            "left": CArray(f"{cid}_left", c["left"].astype(index_t)),
            "right": CArray(f"{cid}_right", c["right"].astype(index_t)),
            "roots": CArray(f"{cid}_roots", c["roots"].astype(index_t)),
        }
        classify = node.attrs["mode"] == "classify"
        single_tree = node.attrs["n_trees"] == 1
        # A single classification tree only needs the leaf rows for predict_proba.
        arrays["leaves"] = CArray(f"{cid}_leaves", c["leaves"])
        boost = boost_context(node, cid, graph)
        if boost["boost"]:
            arrays["base"] = boost["base"]
        if classify:
            arrays["leaf_class"] = CArray(f"{cid}_leaf_class", c["leaf_class"].astype(index_t))
        has_nan_left = bool(c["nan_left"].any())
        if has_nan_left:
            arrays["nan_left"] = CArray(f"{cid}_nan_left", pack_bits(c["nan_left"]))
        return {
            "arrays": list(arrays.values()),
            "a": arrays,
            # the kernel variant of ek_tree.h for these widths, e.g. ek_tree_classify_f32_i16_u8
            "widths": f"i{np.dtype(index_t).itemsize * 8}_u{np.dtype(feature_t).itemsize * 8}",
            "classify": classify,
            "single_tree": single_tree,
            "has_nan_left": has_nan_left,
            "n_trees": node.attrs["n_trees"],
            "leaf_width": int(c["leaves"].shape[1]),
            **boost,
        }

    def vote_context(self, node, cid: str) -> dict:
        """Table layout, forest classifier: integer votes (ek_tree_vote_f32_*). The leaf
        table becomes vote codes: pure leaves are their class, impure ones index rows of
        probabilities times `one` (vote_tables); the float rows stay out of flash."""
        c = node.consts
        votes = vote_tables(node)
        code = votes["codes"]

        def remap(a: np.ndarray) -> np.ndarray:
            a = np.asarray(a, dtype=np.int64)
            return np.where(a < 0, ~code[np.where(a < 0, ~a, 0)], a)

        left, right, roots = remap(c["left"]), remap(c["right"]), remap(c["roots"])
        idx = np.concatenate([left, right, roots])
        index_t = np.int16 if smallest_int_type(int(idx.min()), int(idx.max())) in (np.int8, np.int16) else np.int32
        n_feat = int(c["feature"].max()) + 1 if c["feature"].size else 1
        feature_t = np.uint8 if n_feat <= 256 else np.uint16
        rows = votes["rows"] if len(votes["rows"]) else np.zeros((1, votes["n_classes"]), np.int32)
        arrays = {
            "feature": CArray(f"{cid}_feature", c["feature"].astype(feature_t)),
            "threshold": CArray(f"{cid}_threshold", c["threshold"]),
            "left": CArray(f"{cid}_left", left.astype(index_t)),
            "right": CArray(f"{cid}_right", right.astype(index_t)),
            "roots": CArray(f"{cid}_roots", roots.astype(index_t)),
            "votes": CArray(f"{cid}_votes", rows.astype(np.int32)),
        }
        has_nan_left = bool(c["nan_left"].any())
        if has_nan_left:
            arrays["nan_left"] = CArray(f"{cid}_nan_left", pack_bits(c["nan_left"]))
        return {
            "arrays": list(arrays.values()), "a": arrays, "vote": True, "classify": True, "boost": False,
            "widths": f"i{np.dtype(index_t).itemsize * 8}_u{np.dtype(feature_t).itemsize * 8}",
            "has_nan_left": has_nan_left, "n_trees": node.attrs["n_trees"], "leaf_width": votes["n_classes"],
            "one": votes["one"], "denom": votes["denom"],
            # a power-of-two denominator (n_trees a power of two): an exponent shift
            "denom_log2": int(votes["denom"]).bit_length() - 1 if int(votes["denom"]) & (int(votes["denom"]) - 1) == 0 else 0,
        }

    def scratch_bytes(self, node) -> int:
        if node.attrs["mode"] == "classify" and node.attrs["n_trees"] > 1:
            # integer votes: the class totals, then one row per core (ek_tree_vote_f32_scratch_bytes)
            cores = min(self.cores, node.attrs["n_trees"])
            return 4 * node.attrs["n_classes"] * (1 + (cores if cores > 1 else 0))
        # class accumulators, then one leaf (or leaf code) per tree for the parallel pass
        # (boosting: one leaf or value per tree; its margins live on the stack)
        return 4 * (node.attrs["n_classes"] + node.attrs["n_trees"])


def vote_shift(n_trees: int) -> int:
    """Votes are integers: a pure leaf adds one = 2^shift, an impure leaf round(p * one) per
    class. shift keeps every class total below 2^31: n_trees * one < 2^bit_length(n_trees)
    * 2^(31 - bit_length(n_trees))."""
    return 31 - int(n_trees).bit_length()


def vote_tables(node) -> dict:
    """The integer votes of a forest classifier (docs/architecture.md, Exactness rules).

    codes[l]: leaf row l's vote code (its class for a pure, one-hot row; n_classes + j for
    impure row j); rows: the impure rows' probabilities times one, rounded; denom: the float
    (exact) that turns a class total back into the mean probability."""
    leaves = np.asarray(node.consts["leaves"], dtype=np.float32)
    n_classes = int(leaves.shape[1])
    one = 1 << vote_shift(node.attrs["n_trees"])
    codes = np.zeros(len(leaves), dtype=np.int64)
    rows: list[np.ndarray] = []
    seen: dict[bytes, int] = {}
    for i, row in enumerate(leaves):
        nz = np.flatnonzero(row)
        if len(nz) == 1 and row[nz[0]] == 1.0:
            codes[i] = int(nz[0])
            continue
        q = np.round(row.astype(np.float64) * one).astype(np.int64)
        key = q.tobytes()
        if key not in seen:
            seen[key] = len(rows)
            rows.append(q)
        codes[i] = n_classes + seen[key]
    return {"codes": codes, "rows": np.asarray(rows, dtype=np.int32).reshape(-1, n_classes),
            "one": one, "n_classes": n_classes, "denom": float(node.attrs["n_trees"] * one)}


LINKS = ("identity", "exp", "sigmoid", "softmax")


def inline_votes(ctx: dict, node, cid: str) -> dict:
    """Inline forest classifier with integer votes: each tree's leaves add to the class totals
    themselves (a pure leaf `one`, an impure one its sparse entries of round(p * one)), so
    the probability table holds integers and no float arithmetic runs per tree."""
    one = 1 << vote_shift(node.attrs["n_trees"])
    arrays = []
    for a in ctx["arrays"]:
        if a.name == f"{cid}_p":
            a = CArray(f"{cid}_q", np.round(np.asarray(a.values, np.float64) * one).astype(np.int32))
        arrays.append(a)
    return {**ctx, "arrays": arrays, "vote": True, "one": one, "denom": float(node.attrs["n_trees"] * one),
            "headers": tuple(ctx["headers"])}


def boost_context(node, cid: str, graph) -> dict:
    """What the boosting body needs: the base margins (a CArray), the number of margins K
    (trees are stored round robin: tree i adds to margin i % K), the link and its scale."""
    if node.attrs["mode"] != "boost":
        return {"boost": False}
    a = node.attrs
    if a["link"] not in LINKS:
        raise UnsupportedModelError(f"tree_ensemble link {a['link']!r} is not one of {', '.join(LINKS)}")
    if a["n_trees"] % a["n_outputs"]:
        raise UnsupportedModelError("boosted trees must be stored round robin: n_trees a multiple of n_outputs")
    return {"boost": True, "base": CArray(f"{cid}_base", np.asarray(node.consts["base"], np.float32)),
            "n_outputs": int(a["n_outputs"]), "link": a["link"], "link_scale": float(a.get("link_scale", 1.0)),
            "task": graph.task}


def inline_context(node, cid: str, int_keys: bool = False, tree_keys: str = "auto") -> dict:
    """Nested split/leaf dicts for templates/ops/tree_inline.c.j2.

    Classifier leaves return a code: c for a pure leaf of class c (its probability row is
    one-hot: adding it is acc[c] += 1), n_classes + j for impure row j. A forest keeps impure
    rows sparse (adding their zeros would change nothing).
    """
    c = node.consts
    classify = node.attrs["mode"] == "classify"
    n_classes = int(c["leaves"].shape[1]) if classify else 0
    impure: dict[bytes, int] = {}
    impure_rows: list[np.ndarray] = []
    forest = len(c["roots"]) > 1
    # Forest: impure rows are stored sparse as entries (class | LAST<<7, index of the
    # probability in a table of distinct values); a leaf's code is n_classes + its first entry.
    entries_cls: list[int] = []
    entries_p: list[int] = []
    p_values: dict[float, int] = {}

    def leaf_code(row: np.ndarray):
        if not classify:
            return float(row[0])
        nz = np.flatnonzero(row)
        if len(nz) == 1 and row[nz[0]] == 1.0:
            return int(nz[0])
        key = row.tobytes()
        if key not in impure:
            if forest:
                impure[key] = len(entries_cls)
                for i, k in enumerate(nz):
                    entries_cls.append(int(k) | (0x80 if i == len(nz) - 1 else 0))
                    entries_p.append(p_values.setdefault(float(row[k]), len(p_values)))
            else:
                impure[key] = len(impure_rows)
            impure_rows.append(row)
        return n_classes + impure[key]

    def build(n: int) -> dict:
        if n < 0:
            return {"leaf": leaf_code(c["leaves"][~n])}
        t = {"feature": int(c["feature"][n]), "threshold": float(c["threshold"][n]),
             "nan_left": bool(c["nan_left"][n]), "left": build(int(c["left"][n])), "right": build(int(c["right"][n]))}
        if int_keys:
            t.update(threshold_key(c["threshold"][n]), slot=slots.get((t["feature"], t["nan_left"]), -1))
        return t

    # Soft float, keys per inference: one int32 key per (feature, NaN side) the splits test.
    slots = {k: i for i, k in enumerate(key_uses(node))} if int_keys and per_inference_keys(node, tree_keys) else {}
    trees = [build(int(r)) for r in c["roots"]]
    arrays = []
    if node.attrs["mode"] == "boost":
        arrays = [CArray(f"{cid}_base", np.asarray(c["base"], np.float32))]
    if impure_rows and not forest:
        arrays = [CArray(f"{cid}_rows", np.stack(impure_rows).astype(np.float32)),
                  CArray(f"{cid}_row_class", np.argmax(np.stack(impure_rows), axis=1).astype(np.int32))]
    elif impure_rows:
        if n_classes > 128 or len(p_values) > 65535:
            raise UnsupportedModelError("inline forest layout supports at most 128 classes; use tree_layout='table'")
        p_type = np.uint8 if len(p_values) <= 256 else np.uint16
        arrays = [CArray(f"{cid}_cls", np.asarray(entries_cls, dtype=np.uint8)),
                  CArray(f"{cid}_pidx", np.asarray(entries_p, dtype=p_type)),
                  CArray(f"{cid}_p", np.asarray(list(p_values), dtype=np.float32))]
    return {
        "template": "tree_inline.c.j2", "kernels": ("ek_argmax_f32.c",),
        "arrays": arrays, "trees": trees, "classify": classify, "n_classes": n_classes,
        "n_trees": len(trees), "has_impure": bool(impure_rows), "forest": forest, "int_keys": int_keys, "boost": False,
        "key_slots": list(slots),
        "headers": ("ek_argmax.h", "ek_parallel.h") + (("ek_float_key.h",) if int_keys else ()),
    }


def threshold_key(t: np.float32) -> dict:
    """The integer form of `x <= t` (runtime_c/include/ek_float_key.h): with T the bits of t
    (-0.0 as +0.0, which changes no `x <= t`), key <= T as int32 for t >= 0, as uint32
    key >= T for t < 0."""
    t = np.float32(t)
    if np.isnan(t):
        raise UnsupportedModelError("a tree threshold is NaN")
    bits = int(np.float32(t + np.float32(0.0)).view(np.uint32))  # -0.0 + 0.0 = +0.0
    return {"key": bits, "key_unsigned": bits >= 0x80000000}


def per_inference_keys(node, choice: str) -> bool:
    """Soft float: keys once per inference (a split is then one load and one compare) or
    each split canonicalizes its own input's NaN (no set-up). auto: whichever costs fewer
    instructions, with the splits a sample passes estimated as each tree's mean leaf depth."""
    if choice not in ("auto", "per_split", "per_inference"):
        from edgekiln.errors import InputError

        raise InputError(f"tree_keys must be auto, per_split or per_inference, not {choice!r}")
    if choice != "auto":
        return choice == "per_inference"
    c = node.consts
    passed = 0.0
    for root in c["roots"]:
        depths, stack = [], [(int(root), 0)]
        while stack:
            n, d = stack.pop()
            if n < 0:
                depths.append(d)
            else:
                stack += [(int(c["left"][n]), d + 1), (int(c["right"][n]), d + 1)]
        passed += float(np.mean(depths))
    return passed * NAN_CHECK_INSTRUCTIONS > len(key_uses(node)) * KEY_INSTRUCTIONS


def key_uses(node) -> list[tuple[int, bool]]:
    """(feature, NaN goes left) pairs the splits test, in feature order."""
    c = node.consts
    return sorted({(int(f), bool(nl)) for f, nl in zip(c["feature"], c["nan_left"])})
