"""Render the DS-CNN front end's MFCC tables into runtime_c/include/ek_mfcc_kws_tables.h.

    .venv/bin/python scripts/gen_mfcc_tables.py          # rewrite the header
    .venv/bin/python scripts/gen_mfcc_tables.py --check  # exit 1 if the committed header is stale

The numbers come from quantize/nn/mfcc_fixed.tables(KWS_MFCC) (float tables as %.9g, exact
for float32); the C layout is the template codegen/templates/ops/mfcc_tables.h.j2."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "runtime_c" / "include" / "ek_mfcc_kws_tables.h"


def _float(v: float) -> str:
    s = f"{v:.9g}"  # round-trips a float32
    return (s if any(c in s for c in ".en") else s + ".0") + "f"


def _c(values: np.ndarray) -> list[str]:
    if np.issubdtype(values.dtype, np.floating):
        return [_float(float(v)) for v in np.asarray(values, np.float32)]
    return [str(int(v)) for v in values]


def render(attrs: dict | None = None, prefix: str = "ek_mfcc_kws", guard: str = "EK_MFCC_KWS_TABLES",
           description: str = "the MLPerf Tiny DS-CNN front end, edgekiln.audio.features.KWS_MFCC") -> str:
    from edgekiln.audio.features import KWS_MFCC
    from edgekiln.quantize.nn.mfcc_fixed import headroom_bits, tables

    attrs = dict(KWS_MFCC if attrs is None else attrs)
    t = tables(attrs)
    arrays = {k: _c(np.ravel(v)) for k, v in t.items() if isinstance(v, np.ndarray)}
    arrays["log_offset_q50"] = t["log_offset_q50"]
    env = Environment(loader=FileSystemLoader(str(ROOT / "codegen" / "templates" / "ops")),
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("mfcc_tables.h.j2").render(
        guard=guard, prefix=prefix, description=description, generator="scripts/gen_mfcc_tables.py", attrs=attrs,
        t=arrays, p=t["params"], log_offset=_float(float(np.float32(t["params"].log_offset))),
        headroom=headroom_bits(t["params"].frame_length))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="render ek_mfcc_kws_tables.h")
    ap.add_argument("--check", action="store_true", help="compare with the committed header instead of writing")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        if not HEADER.exists() or HEADER.read_text() != text:
            print(f"error: {HEADER.relative_to(ROOT)} is stale: run scripts/gen_mfcc_tables.py", file=sys.stderr)
            return 1
        return 0
    HEADER.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
