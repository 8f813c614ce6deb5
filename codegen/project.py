"""Render a self-contained C project for one graph and one target.

The folder builds with `make` and nothing but the cross compiler: generated model,
harness, the runtime subset the model uses, the target's port files and linker script.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import edgekiln.runtime_c
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from edgekiln.errors import InputError
from edgekiln.ir import Graph
from edgekiln.version import __version__

from . import destination
from .lowering import lowering_for
from .mains import main_context, main_template
from .memory_plan import check_fits, memory_plan

TEMPLATES = Path(__file__).parent / "templates"
RUNTIME = Path(edgekiln.runtime_c.__file__).parent
TASK_CODES = {"classify": 0, "regress": 1, "cluster": 2}
# Every key `options` may hold (docs/cli.md); "fixed" and "sim" are also written by edgekiln
# itself into project.json, which `kiln profile` renders again.
OPTION_KEYS = ("tree_layout", "cores", "batch", "dtype", "fixed_headroom_bits", "soft_float", "tree_keys",
               "fixed", "sim", "main",
               "board",  # board: written by codegen.mains for --main board (sizes, model hash)
               "scratch_probe")  # networks: kernel scratch sizes a probe run on the target answered


def check_option_keys(options: dict | None) -> None:
    """A misspelt option must not be ignored: name it, the nearest valid key, and all of them."""
    import difflib

    for key in options or {}:
        if key not in OPTION_KEYS:
            near = difflib.get_close_matches(str(key), OPTION_KEYS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise InputError(f"unknown option {key!r}{hint} Valid options: {', '.join(OPTION_KEYS)}")


@dataclass
class ProjectInfo:
    """What was rendered; saved as project.json so later stages need no Python objects."""

    path: Path
    model: str
    target: str
    sources: list[str]
    plan: dict  # codegen.plan: memory, kernels, options that shaped them
    options: dict
    files: dict[str, str] | None = None  # every file edgekiln wrote (but project.json) -> sha256
    kept_aside: list[str] | None = None  # a user's files moved aside by force=True ("A -> A.orig")

    def save(self) -> None:
        doc = {"model": self.model, "target": self.target, "sources": self.sources, "plan": self.plan,
               "options": self.options, "edgekiln_version": __version__,
               "files": destination.file_hashes(self.path)}
        self.files = doc["files"]
        (self.path / "project.json").write_text(json.dumps(doc, indent=1))


def _cvalue(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        f = float(np.float32(v))
        if np.isnan(f):
            return "NAN"
        if np.isinf(f):  # e.g. a tree split that separates only missing values
            return "INFINITY" if f > 0 else "-INFINITY"
        text = "%.9g" % f
        if "e" not in text and "." not in text:
            text += ".0"
        return text + "f"
    return str(int(v))


def _cvalues(values: np.ndarray, per_line: int = 8) -> str:
    flat = np.asarray(values).reshape(-1)
    items = [_cvalue(np.float32(v)) for v in flat] if flat.dtype.kind == "f" else [str(int(v)) for v in flat]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n    " + ",\n    ".join(lines) + "\n}"


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["cvalues"] = _cvalues
    env.filters["cfloat"] = lambda v: _cvalue(float(v))
    return env


def _kernel_path(name: str, families: list[str]) -> Path:
    """Optimized kernels override the reference one by file name (TFLite Micro's rule)."""
    for fam in families:
        p = RUNTIME / "kernels" / fam / name
        if p.exists():
            return p
    return RUNTIME / "kernels" / "ref" / name


def lower_graph(graph: Graph, options: dict | None = None) -> tuple[list[dict], dict]:
    """Per-node template contexts plus the project-wide facts (headers, kernels, config).

    options: codegen choices such as {"tree_layout": "inline" | "table" | "auto"}.
    """
    nodes, headers, kernels = [], [], []
    scratch = 0
    dtype = (options or {}).get("dtype", "float32")
    for i, node in enumerate(graph.nodes):
        low = lowering_for(node, dtype, options)
        cid = f"{graph.name}_n{i}"
        ctx = low.context(node, graph, cid)
        # A lowering may pick its template and runtime files per node (e.g. tree layouts).
        ctx.setdefault("template", low.template)
        # Fixed point: the first node reads the quantized input vector xq (model.c.j2).
        ctx.update(cid=cid, name=node.name, op=node.op,
                   input="xq" if dtype == "fixed" and node.inputs[0] == "x" and options["fixed"]["input_bits"]
                   else node.inputs[0])
        nodes.append(ctx)
        headers += [h for h in ctx.get("headers", low.headers) if h not in headers]
        kernels += [k for k in ctx.get("kernels", low.kernels) if k not in kernels]
        scratch = max(scratch, low.scratch_bytes(node))
    return nodes, {"headers": headers, "kernels": kernels, "scratch_bytes": scratch,
                   "reports": [n["report"] for n in nodes if "report" in n]}


def write_makefile(out: Path, target: Any, sources: list[str], *, harness_outputs: bool = True,
                   extra_cflags: tuple[str, ...] = (), extra_ldflags: tuple[str, ...] = (),
                   warnings: str = "-Wall -Wextra -Werror -Wconversion -Wdouble-promotion") -> None:
    """The project's Makefile; `warnings` is relaxed only for third-party code (benchmarks)."""
    (Path(out) / "Makefile").write_text(environment().get_template("Makefile.j2").render(
        target=target, sources=sources, harness_outputs=int(harness_outputs), warnings=warnings,
        extra_cflags=" ".join(extra_cflags), extra_ldflags=" ".join(extra_ldflags),
        library_sources=library_sources(sources)))


def library_sources(sources: list[str]) -> list[str]:
    """The model alone (`make lib`, CMake's library): model.c and the runtime it calls."""
    return [s for s in sources if s.startswith(("model.c", "runtime/kernels/", "runtime/parallel/"))
            or s.endswith("ek_markers.c")]


def write_cmakelists(out: Path, target: Any, name: str, sources: list[str], harness_outputs: bool = True) -> None:
    """CMakeLists.txt: the model as a library for an existing CMake project (docs/integration.md)."""
    lib = library_sources(sources)
    (Path(out) / "CMakeLists.txt").write_text(environment().get_template("CMakeLists.txt.j2").render(
        target=target, name=name, library_sources=lib, harness_sources=[s for s in sources if s not in lib],
        harness_outputs=int(harness_outputs)))


def fixed_entry(graph: Graph, options: dict) -> dict | None:
    """What model.c needs to quantize the float input (None for float32 models)."""
    dtype = options.setdefault("dtype", "float32")
    if dtype not in ("float32", "fixed"):
        raise InputError(f"dtype must be float32 or fixed, not {dtype!r}")
    if dtype == "float32":
        return None
    if "fixed" not in options:
        raise InputError("--dtype fixed needs the training data ranges: pass calibration data (--calib X.npy)")
    f = options["fixed"]
    entry = f.get("entry_affine")
    return {"bits": f["input_bits"], "frac": f["input_frac"], "scale": entry["scale"] if entry else None,
            "shift": entry["shift"] if entry else None}


def project_options(target: Any, options: dict | None) -> dict:
    """The options export builds with: the defaults (cores, batch, sim, soft_float, dtype)
    applied and checked against the target."""
    check_option_keys(options)
    options = dict(options or {})
    cores = int(options.setdefault("cores", 1))
    options["batch"] = bool(options.setdefault("batch", False))
    if getattr(target, "variant", None):  # remembered in project.json: build and run use the same
        options["sim"] = target.variant
    if not 1 <= cores <= target.cores:
        raise InputError(f"target {target.name} has {target.cores} core(s); cannot generate code for {cores}")
    # No FPU: inline trees compare integer keys of the float bits (codegen/ops/tree_ensemble.py).
    options.setdefault("soft_float", target.fpu.startswith("none"))
    options.setdefault("dtype", "float32")
    main_template(options)  # checks options["main"] (harness or board)
    return options


def _lower_and_plan(graph: Graph, target: Any, options: dict) -> tuple[list[dict], dict, dict]:
    """(node contexts, project facts, plan) for options already through project_options."""
    cores, batch = options["cores"], options["batch"]
    # batch: `cores` whole inferences side by side, each kernel on one core
    nodes, facts = lower_graph(graph, {**options, "cores": 1} if batch else options)
    memory = memory_plan(graph, nodes, facts, slots=cores if batch else 1)
    check_fits(memory, target)
    return nodes, facts, {**memory, "graph": " -> ".join(n.op for n in graph.nodes), "target": target.name,
                          "dtype": options["dtype"], "cores": cores, "batch": batch, "kernels": facts["kernels"]}


def plan(graph: Graph, target: Any, options: dict | None = None) -> dict:
    """The memory plan `render_project` builds for these options (what `kiln check` prints):
    flash for constants, RAM for buffers and scratch, and the kernels chosen. Raises
    MemoryBudgetError when the model does not fit the target."""
    options = project_options(target, options)
    if graph.is_network():
        from .nn_project import network_plan

        return network_plan(graph, target, _network_options(graph, options))
    fixed_entry(graph, options)
    return _lower_and_plan(graph, target, options)[2]


def _network_options(graph: Graph, options: dict) -> dict:
    """Networks take their dtypes from their tensors; --dtype fixed and the board main are classic-only."""
    if options.get("dtype", "float32") != "float32":
        raise InputError(f"--dtype {options['dtype']} is for classic models; a network's dtypes come from its tensors "
                         "(an int8 .tflite runs int8 kernels, a float .onnx float32 kernels)")
    if options.get("main", "harness") != "harness":
        raise InputError("--main board serves classic models only for now; export networks with the harness main")
    if options.get("batch"):
        raise InputError("--batch is for classic models; a network runs one inference at a time")
    return options


def render_project(graph: Graph, target: Any, out_dir: str | Path, *, harness_outputs: bool = True,
                   options: dict | None = None, force: bool = False) -> ProjectInfo:
    """Write the C project for `graph` on `target` (a targets.registry.Target) to out_dir.

    Everything is checked before anything is written; the project is rendered beside out_dir
    and moved into place, so a failure leaves nothing. An existing out_dir may hold only
    files edgekiln wrote unless `force` (codegen/destination.py)."""
    out = Path(out_dir)
    options = project_options(target, options)
    if graph.is_network():
        from .nn_project import lower_network

        options = _network_options(graph, options)
        lowered_net = lower_network(graph, target, options)
        destination.check_destination(out, force)
        with destination.staging(out) as stage:
            info = _render_network(graph, target, stage, options, lowered_net)
            info.kept_aside = destination.move_into_place(stage, out, force)
        info.path = out
        return info
    fixed = fixed_entry(graph, options)
    lowered = _lower_and_plan(graph, target, options)
    destination.check_destination(out, force)
    with destination.staging(out) as stage:
        info = _render(graph, target, stage, harness_outputs, options, fixed, lowered)
        info.kept_aside = destination.move_into_place(stage, out, force)
    info.path = out
    return info


def _render(graph: Graph, target: Any, out: Path, harness_outputs: bool, options: dict, fixed: dict | None,
            lowered: tuple[list[dict], dict, dict]) -> ProjectInfo:
    env = environment()
    cores, batch = options["cores"], options["batch"]
    nodes, facts, planned = lowered

    classes = graph.classes or []
    classes_numeric = bool(classes) and all(isinstance(c, (int, bool)) for c in classes)
    n_scores = next((o.length for o in graph.outputs if o.name == "scores"), 0)
    ctx = dict(
        name=graph.name, version=__version__, estimator=graph.meta.get("estimator", "?"),
        n_features=graph.n_features, task=graph.task, task_code=TASK_CODES[graph.task],
        n_outputs=max(1, n_scores), n_scores=n_scores, score_kind=graph.score_kind,
        classes=[int(c) for c in classes] if classes_numeric else classes, classes_numeric=classes_numeric,
        nodes=nodes, headers=facts["headers"], scratch_bytes=facts["scratch_bytes"],
        # batch: `cores` whole inferences side by side, each kernel on one core
        slots=cores if batch else 1, kernel_cores=1 if batch else cores, batch_cores=cores if batch else 0,
        buffers=graph.intermediates, fixed=fixed,
    )
    ctx.update(main_context(graph, target, options, ctx["n_outputs"]))
    (out / "model.h").write_text(env.get_template("model.h.j2").render(ctx))
    (out / "model.c").write_text(env.get_template("model.c.j2").render(ctx))
    (out / "main.c").write_text(env.get_template(main_template(options)).render(ctx))

    sources = _copy_runtime(out, target, facts["kernels"], cores, ["model.c", "main.c"])
    write_makefile(out, target, sources, harness_outputs=harness_outputs)
    write_cmakelists(out, target, graph.name, sources, harness_outputs=harness_outputs)
    (out / "graph.json").write_text(graph.to_json())
    if fixed:
        options["fixed"] = {**options["fixed"], "nodes": facts["reports"]}
    info = ProjectInfo(out, graph.name, target.name, sources, planned, options)
    info.save()
    return info


def _copy_runtime(out: Path, target: Any, kernels: list[str], cores: int, sources: list[str]) -> list[str]:
    """Runtime subset: headers, the model's kernels, the protocol, the port, the linker script."""
    env = environment()
    sources = list(sources)
    rt = out / "runtime"
    (rt / "include").mkdir(parents=True)
    for h in (RUNTIME / "include").glob("*.h"):
        shutil.copy(h, rt / "include" / h.name)
    (rt / "include" / "ek_config.h").write_text(env.get_template("ek_config.h.j2").render(n_cores=cores))
    for k in kernels:
        dst = rt / "kernels" / k
        dst.parent.mkdir(exist_ok=True)
        shutil.copy(_kernel_path(k, target.kernel_families), dst)
        sources.append(f"runtime/kernels/{k}")
    # The team (fork/join) port by name; "cluster" runs over the target's ek_cluster.h.
    (rt / "parallel").mkdir()
    team = f"ek_team_{target.parallel}.c"
    shutil.copy(RUNTIME / "parallel" / team, rt / "parallel" / team)
    sources.append(f"runtime/parallel/{team}")
    # A port file of the same name replaces a protocol one (GVSoC's ek_markers.c reads counters).
    port_names = {Path(src).name for src in target.port_sources}
    for p in sorted((RUNTIME / "protocol").glob("*.c")):
        if p.name in port_names:
            continue
        (rt / "protocol").mkdir(exist_ok=True)
        shutil.copy(p, rt / "protocol" / p.name)
        sources.append(f"runtime/protocol/{p.name}")
    (rt / "port").mkdir()
    for src in target.port_sources:  # .c files are compiled; .h files are on the include path
        shutil.copy(target.path / src, rt / "port" / Path(src).name)
        if src.endswith(".c"):
            sources.append(f"runtime/port/{Path(src).name}")
    if target.linker_template:
        # Relative to the target folder, like `sources`, so targets can share one in common/.
        tpl = target.path / target.linker_template
        lenv = Environment(loader=FileSystemLoader(str(tpl.parent)), undefined=StrictUndefined)
        (out / "linker.ld").write_text(lenv.get_template(tpl.name).render(
            memory=[vars(m) for m in target.memory], stack_bytes=target.stack_bytes))

    return sources


def _render_network(graph: Graph, target: Any, out: Path, options: dict, lowered) -> ProjectInfo:
    from .nn_project import render_network

    options["_version"] = __version__
    ctx, kernels = render_network(graph, target, out, options, lowered)
    options.pop("_version")
    sources = _copy_runtime(out, target, kernels, options["cores"], ["model.c", "main.c"])
    # the harness counts instructions per layer (model.c's markers around each kernel call)
    write_makefile(out, target, sources, extra_cflags=("-DEK_NN_LAYER_MARKS=1",))
    write_cmakelists(out, target, graph.name, sources)
    (out / "graph.json").write_text(graph.to_json())
    info = ProjectInfo(out, graph.name, target.name, sources, lowered[1]["plan"], options)
    info.save()
    return info
