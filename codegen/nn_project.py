"""Networks (IR version 2) -> a C project: lowering by op and dtype, the arena plan, the
scratch probe, and the model/harness templates under templates/nn/.

`network_plan` is the one plan: `kiln check` prints it, `kiln export` renders it (tests
compare the two). The generated model keeps every tensor in one static arena
(`<name>_arena`, placed in the target's arena region) and exposes
`<name>_input()`, `<name>_output()`, `<name>_invoke()`; the harness speaks protocol 2 (raw
tensor bytes; runtime_c/include/ek_protocol.h)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekiln.errors import InputError, MemoryBudgetError, UnsupportedModelError
from edgekiln.ir import Graph

from .arena import ArenaPlan, plan_arena
from .lowering import find_lowering, registered
from .nn_lower import CTYPE, CRef, NnLowering, fuse_activations, network_dtype, strip_boundary_transposes
from .scratch_probe import probe_scratch

PROTOCOL_VERSION = 2


def network_lowering(op: str, dtype: str, options: dict) -> NnLowering:
    cls = find_lowering(op, dtype)
    if cls is None:
        have = registered(("s8", "s4", "f32"))
        raise UnsupportedModelError(f"no {dtype} network kernel for op {op!r} yet; network lowerings: "
                                    f"{', '.join(have)}")
    return cls(options)


def _check_supported(graph: Graph, options: dict) -> list[tuple[Any, str, NnLowering]]:
    """(node, dtype, lowering) per node; every unsupported node named in one error."""
    out, missing = [], []
    for node in graph.nodes:
        try:
            dtype = network_dtype(graph, node)
            out.append((node, dtype, network_lowering(node.op, dtype, options)))
        except UnsupportedModelError as e:
            missing.append(f"{node.name} ({node.op}): {e}")
    if missing:
        raise UnsupportedModelError("cannot export these nodes: " + "; ".join(missing))
    return out


def _refs(graph: Graph, arena: ArenaPlan | None, name: str) -> dict[str, CRef]:
    refs = {}
    for v in graph.all_values():
        ctype = CTYPE[v.dtype]
        off = arena.offset_of(v.name) if arena is not None else 0
        refs[v.name] = CRef(v.name, f"(({ctype} *)&{name}_arena[{off}])", ctype, tuple(v.dims), v.nbytes)
    return refs


def _kernel_files(kernels: list[str], target: Any) -> list[tuple[str, Path]]:
    from .project import _kernel_path

    return [(k, _kernel_path(k, target.kernel_families)) for k in kernels]


def _variant(path: Path) -> str:
    """'ref/ek_conv_s8.c' or 'arm/ek_conv_s8.c': which file a layer runs."""
    return f"{path.parent.name}/{path.name}"


def _arena_region(target: Any, arena_bytes: int) -> tuple[str, str | None, str]:
    """(region name, linker section or None for .bss, why) for the arena."""
    nn = getattr(target, "nn", {}) or {}
    ram = [m for m in target.memory if m.kind == "ram"]
    names = list(nn.get("arena_regions", [m.name for m in ram[:1]]))
    sections = dict(nn.get("arena_sections", {}))
    stack_region = nn.get("stack_region", ram[0].name if ram and target.kind == "baremetal" else None)
    reserve = dict(nn.get("reserve_bytes", {}))
    tried = []
    for i, rname in enumerate(names):
        region = next((m for m in target.memory if m.name == rname), None)
        if region is None:
            raise InputError(f"target {target.name}: [nn] arena_regions names {rname!r}, not a memory region")
        free = region.length - int(reserve.get(rname, 0)) - (target.stack_bytes if rname == stack_region else 0)
        if arena_bytes <= free:
            why = (f"the arena ({arena_bytes} B) is in {rname}" if not tried else
                   f"the arena ({arena_bytes} B) does not fit {'; '.join(tried)}: placed in {rname} ({free} B free)")
            return rname, (sections.get(rname) if i else None), why
        tried.append(f"{rname} ({free} B free)")
    total = max((next(m.length for m in target.memory if m.name == r) for r in names), default=0)
    raise MemoryBudgetError(f"the network needs {arena_bytes} bytes of RAM for its arena but {target.name} has "
                            f"{'; '.join(tried) or '0 B'} (largest region {total} B). Use a smaller model or a "
                            "larger target.")


def lower_network(graph: Graph, target: Any, options: dict) -> tuple[list[dict], dict]:
    """(per-node template contexts, plan) for a network graph and target."""
    from .project import RUNTIME, environment

    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(f"networks with one input and one output are supported (this one has "
                                    f"{len(graph.inputs)} and {len(graph.outputs)})")
    g, in_perm, out_perm = strip_boundary_transposes(graph)
    g = fuse_activations(g)
    chosen = _check_supported(g, options)
    name = g.name
    # Pass 1 (offsets unknown): kernels and scratch requests.
    refs0 = _refs(g, None, name)
    contexts0 = [low.context(node, g, f"{name}_n{i}", refs0) for i, (node, _, low) in enumerate(chosen)]
    kernels = []
    for c in contexts0:
        if c["kernel"] and c["kernel"] not in kernels:
            kernels.append(c["kernel"])
    files = _kernel_files(kernels, target)
    requests = [{**c["scratch"], "index": i, "b": c["scratch"].get("b", []), "c": c["scratch"].get("c", [])}
                for i, c in enumerate(contexts0) if c["scratch"]]
    used = [p for k, p in files if any(r["fn"].startswith(k[:-2]) for r in requests)]
    port_headers = sorted({(target.path / s).parent for s in target.port_sources if s.endswith(".h")})
    scratch = probe_scratch(requests, used, [RUNTIME / "include", *port_headers], environment(),
                            int(options.get("cores", 1)), options.get("scratch_probe"))
    order = [(n.inputs, n.outputs, low.alias) for n, _, low in chosen]
    sizes = {v.name: v.nbytes for v in g.all_values()}
    arena = plan_arena(order, sizes, [v.name for v in g.inputs], [v.name for v in g.outputs], scratch)
    region, section, why = _arena_region(target, arena.size)
    # Pass 2: the real references.
    refs = _refs(g, arena, name)
    nodes, variants = [], dict((k, _variant(p)) for k, p in files)
    for i, (node, dtype, low) in enumerate(chosen):
        c = low.context(node, g, f"{name}_n{i}", refs)
        s = arena.scratch_of(i)
        c.update(cid=f"{name}_n{i}", index=i, name=node.name, op=node.op, template=c.get("template", low.template),
                 scratch_offset=s.offset if s else 0, scratch_bytes=s.size if s else 0,
                 variant=variants.get(c["kernel"]), fused=node.attrs.get("fused", []))
        nodes.append(c)
    flash = sum(a.nbytes for n in nodes for a in n["arrays"])
    stack = int(target.stack_bytes or 0)
    vin, vout = g.inputs[0], g.outputs[0]
    plan = {
        "kind": "network", "protocol": PROTOCOL_VERSION, "graph": " -> ".join(n.op for n in g.nodes),
        "target": target.name, "dtype": "+".join(sorted({c["dtype"] for c in nodes if c["dtype"] != "alias"})),
        "cores": int(options.get("cores", 1)), "batch": False, "kernels": kernels,
        "kernel_variants": variants,
        "constants_flash_bytes": int(flash), "arena_bytes": int(arena.size), "arena_region": region,
        "arena_placement": why, "buffers_ram_bytes": int(arena.size), "scratch_ram_bytes": 0,
        "scratch_in_arena_bytes": int(sum(scratch.values())),
        "stack_budget_bytes": stack, "peak_ram_bytes": int(arena.size) + stack,
        "macs": int(sum(c["macs"] for c in nodes)),
        # the device's tensors; `permutation`: the host's transpose of the user's input to it,
        # and of it to the user's output (ONNX's channel-first boundary, see nn_lower)
        "input": {**_io_doc(vin), "permutation": in_perm, "user": _io_doc(graph.inputs[0])},
        "output": {**_io_doc(vout), "permutation": out_perm, "user": _io_doc(graph.outputs[0])},
        "layers": [{"index": c["index"], "name": c["name"], "op": c["op"], "dtype": c["dtype"], "kernel": c["fn"],
                    "variant": c["variant"], "macs": int(c["macs"]), "output": c["y"].name,
                    "output_bytes": c["y"].nbytes, "offset": arena.offset_of(c["y"].name),
                    "scratch_bytes": c["scratch_bytes"], "fused": c["fused"]} for c in nodes],
        "arena": arena.to_doc(),
    }
    _check_flash(plan, target)
    return nodes, {"plan": plan, "section": section, "graph": g, "refs": refs}


def _io_doc(v) -> dict:
    return {"name": v.name, "shape": list(v.dims), "dtype": v.dtype, "bytes": v.nbytes,
            "scale": v.quant.scale[0] if v.quant else None, "zero_point": v.quant.zero_point[0] if v.quant else None}


def _check_flash(plan: dict, target: Any) -> None:
    flash = target.region_bytes("flash")
    if flash is not None and plan["constants_flash_bytes"] > flash:
        raise MemoryBudgetError(f"the network needs {plan['constants_flash_bytes']} bytes of flash for its constants "
                                f"but {target.name} has {flash}. Use a smaller model or a larger target.")


def network_plan(graph: Graph, target: Any, options: dict) -> dict:
    return lower_network(graph, target, options)[1]["plan"]


def render_network(graph: Graph, target: Any, out: Path, options: dict, lowered) -> tuple[dict, list[str]]:
    """Write model.c, model.h and main.c; returns (template context, kernel file names)."""
    from .project import environment

    nodes, facts = lowered
    env = environment()
    plan = facts["plan"]
    g = facts["graph"]
    headers = sorted({h for n in nodes for h in n.get("headers", ("ek_nn.h",))})
    ctx = dict(name=g.name, version=options.get("_version", ""), source=g.meta.get("source", "?"), nodes=nodes,
               headers=headers, arena_bytes=plan["arena_bytes"], arena_section=facts["section"],
               arena_region=plan["arena_region"], input=plan["input"], output=plan["output"],
               n_layers=len(nodes), cores=plan["cores"], protocol=PROTOCOL_VERSION,
               in_ctype=CTYPE[plan["input"]["dtype"]], out_ctype=CTYPE[plan["output"]["dtype"]],
               input_expr=facts["refs"][g.inputs[0].name].expr, output_expr=facts["refs"][g.outputs[0].name].expr)
    (out / "model.h").write_text(env.get_template("nn/model.h.j2").render(ctx))
    (out / "model.c").write_text(env.get_template("nn/model.c.j2").render(ctx))
    (out / "main.c").write_text(env.get_template("nn/main.c.j2").render(ctx))
    return ctx, plan["kernels"]
