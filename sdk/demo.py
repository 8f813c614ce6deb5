"""`make demo`: train on scikit-learn's digits, export for Cortex-M4, run on QEMU, report."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from .api import convert
from .report import print_run_summary, reference_agreement, run_report


def main(target: str = "cortex-m4", out: str = "build/demo") -> None:
    console = Console()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    model = RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0).fit(X_train, y_train)
    console.print(f"trained RandomForestClassifier(10 trees, depth 10) on digits: {len(X_train)} rows, "
                  f"64 features; exporting for {target} into {out}/")
    cm = convert(model, target, workdir=Path(out), name="digits_rf")
    cm.predict(X_test)
    result = cm.last_run
    report = run_report(cm.graph, result, cm.build.to_dict())
    report["reference_agreement"] = reference_agreement(cm.graph, report["predictions"], model,
                                                        X_test.astype(np.float32))
    print_run_summary(report, console)
    agree = report["reference_agreement"]["agreement"]
    console.print(f"{'[green]' if agree == 1.0 else '[red]'}device predictions equal scikit-learn's on "
                  f"{agree * 100:.2f}% of {len(X_test)} test samples[/]; C project: {out}/ (make -C {out})")


if __name__ == "__main__":
    main()
