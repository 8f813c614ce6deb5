"""int8 MLP (dtype int8, the network kernels) beside float32 on one target: top-1 agreement
with scikit-learn, model flash and instructions per inference (median, QEMU instruction count).

    .venv/bin/python benchmarks/mlp_int8.py [--target cortex-m4] [--rows 60]
"""
from __future__ import annotations

import argparse
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import edgekiln


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--rows", type=int, default=60)
    args = ap.parse_args()
    X, y = load_digits(return_X_y=True)
    Xt = X[1200:].astype(np.float32)
    print(f"{'model':34} {'dtype':8} {'agree(597)':>10} {'flash B':>8} {'insn/inf':>9}")
    for scaler in (MinMaxScaler, StandardScaler):
        est = make_pipeline(scaler(), MLPClassifier((32,), max_iter=300, random_state=0)).fit(X[:1200], y[:1200])
        ref = est.predict(Xt)
        for dtype in ("float32", "int8"):
            with tempfile.TemporaryDirectory() as tmp:
                host = edgekiln.convert(est, "host", options={"dtype": dtype}, calibration=X[:1200], workdir=tmp + "/h")
                agree = float((host.predict(Xt) == ref).mean())
                cm = edgekiln.convert(est, args.target, options={"dtype": dtype}, calibration=X[:1200], workdir=tmp + "/t")
                cm.predict(Xt[:args.rows])
                insn = int(np.median(cm.last_run.instructions))
                print(f"{scaler.__name__ + ' + MLP(32 relu) digits':34} {dtype:8} {agree:10.4f} "
                      f"{cm.build.model_flash_bytes:8d} {insn:9d}")


if __name__ == "__main__":
    main()
