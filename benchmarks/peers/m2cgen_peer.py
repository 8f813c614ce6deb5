"""m2cgen peer: C code from ``m2cgen.export_to_c``, plus our adapter to the harness contract.

m2cgen 0.10 emits one C function over ``double`` (``double score(double *input)`` for one
output, ``void score(double *input, double *output)`` for several). It is kept exactly as
generated (double precision is what the tool does; on a Cortex-M4F, whose FPU is
single-precision only, that means software double arithmetic). The adapter widens the
float inputs to double and maps the outputs to the harness contract:

* tree and forest classifiers: the output is the class probabilities -> label = first argmax;
* linear classifiers (LogisticRegression, ...): the decision values, one per class -> first
  argmax; with two classes a single decision value -> label = (value > 0);
* SVC / NuSVC: with two classes a single decision value -> label = (value > 0); with more,
  the raw one-vs-one decision values, n*(n-1)/2 of them, in scikit-learn's pair order ->
  the adapter votes like libsvm (pair (i, j): value > 0 votes i, else j; first max wins);
* regressors with one output: out[0] = value, label = 0.

Not exportable by m2cgen: GaussianNB, KNeighborsClassifier, KMeans (``export_to_c`` raises
``NotImplementedError: Model 'sklearn_<Name>' is not supported``). With scikit-learn >= 1.1 the
GLM regressors (Poisson, Gamma, Tweedie) fail too (AttributeError ``_link_instance``), so
``supports`` says False for them.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys

from . import _common

TOOL = "m2cgen"
FUNCTION_NAME = "ek_peer_score"
GENERATED_SOURCE = "m2cgen_model.c"
# m2cgen's README: big models can hit Python's recursion limit; raise it while exporting.
EXPORT_RECURSION_LIMIT = 10000

TREE_CLASSIFIERS = {"DecisionTreeClassifier", "ExtraTreeClassifier",
                    "RandomForestClassifier", "ExtraTreesClassifier"}
LINEAR_CLASSIFIERS = {"LogisticRegression", "LogisticRegressionCV", "RidgeClassifier",
                      "RidgeClassifierCV", "SGDClassifier", "Perceptron",
                      "PassiveAggressiveClassifier", "LinearSVC"}
SVM_CLASSIFIERS = {"SVC", "NuSVC"}
# Boosted classifiers: m2cgen returns the class probabilities (two for a binary model).
BOOST_CLASSIFIERS = {"GradientBoostingClassifier", "XGBClassifier", "LGBMClassifier"}
SVM_KERNELS = {"rbf", "sigmoid", "poly", "linear"}
# m2cgen 0.10's SklearnGLMModelAssembler reads ``model._link_instance``, which scikit-learn
# removed in 1.1 (GLMs now keep the link in ``_base_loss``): export raises AttributeError.
GLM_REGRESSORS = {"PoissonRegressor", "GammaRegressor", "TweedieRegressor"}

_SCALAR_SIG = re.compile(r"\bdouble\s+" + FUNCTION_NAME + r"\s*\(\s*double\s*\*\s*input\s*\)")
_VECTOR_SIG = re.compile(r"\bvoid\s+" + FUNCTION_NAME
                         + r"\s*\(\s*double\s*\*\s*input\s*,\s*double\s*\*\s*output\s*\)")
_OUTPUT_SIZE = re.compile(r"memcpy\(output, .*?, (\d+) \* sizeof\(double\)\);")


def _kind(estimator) -> str:
    return type(estimator).__name__


def _assembler_cls(estimator):
    import m2cgen.assemblers

    return m2cgen.assemblers.get_assembler_cls(estimator)


def _mode(estimator) -> str:
    """How the adapter turns m2cgen's output into (label, out[])."""
    kind = _kind(estimator)
    if _common.task_of(estimator) == _common.TASK_REGRESS:
        return "regress"
    n_classes = len(estimator.classes_)
    if kind in TREE_CLASSIFIERS | BOOST_CLASSIFIERS:
        return "argmax"
    if kind in LINEAR_CLASSIFIERS:
        return "sign" if n_classes == 2 else "argmax"
    if kind in SVM_CLASSIFIERS:
        return "sign" if n_classes == 2 else "ovo"
    raise ValueError(f"m2cgen peer: no output mapping for {kind}")


def _expected_outputs(estimator, mode: str) -> int:
    if mode in ("regress", "sign"):
        return 1
    n_classes = len(estimator.classes_)
    if mode == "ovo":
        return n_classes * (n_classes - 1) // 2
    return n_classes


def unsupported_reason(estimator) -> str | None:
    """None if ``write_peer`` can export ``estimator``, else a one-line reason."""
    try:
        import m2cgen  # noqa: F401
    except Exception as exc:  # pragma: no cover - m2cgen missing or broken
        return f"m2cgen cannot be imported: {exc}"
    kind = _kind(estimator)
    try:
        _assembler_cls(estimator)
    except NotImplementedError as exc:
        return f"m2cgen: {exc}"
    if not hasattr(estimator, "n_features_in_"):
        return "estimator is not fitted (or not a scikit-learn estimator)"
    if kind == "XGBClassifier" and int(__import__("xgboost").__version__.split(".")[0]) >= 2:
        # its assembler divides by the booster's base_score, which XGBoost >= 2 no longer reports there
        return "m2cgen 0.10 cannot export XGBoost >= 2 models (TypeError on base_score)"
    task = _common.task_of(estimator)
    if task == _common.TASK_CLASSIFY:
        if kind not in TREE_CLASSIFIERS | LINEAR_CLASSIFIERS | SVM_CLASSIFIERS | BOOST_CLASSIFIERS:
            return f"m2cgen exports {kind}, but the adapter has no output mapping for it"
        if getattr(estimator, "n_outputs_", 1) != 1:
            return "multi-output classifiers are not supported"
        if len(estimator.classes_) < 2:
            return "a classifier needs at least 2 classes"
        if kind in SVM_CLASSIFIERS:
            if estimator.kernel not in SVM_KERNELS:
                return f"m2cgen does not support kernel={estimator.kernel!r}"
            if estimator.break_ties and len(estimator.classes_) > 2:
                return "break_ties=True predicts from the OvR decision, not the OvO vote"
        return None
    if task == _common.TASK_REGRESS:
        if kind in GLM_REGRESSORS and not hasattr(estimator, "_link_instance"):
            return (f"m2cgen 0.10 reads {kind}._link_instance, which this scikit-learn "
                    "no longer has (AttributeError on export)")
        coef = getattr(estimator, "coef_", None)
        if getattr(estimator, "n_outputs_", 1) != 1 or (
                coef is not None and getattr(coef, "ndim", 1) > 1 and coef.shape[0] != 1):
            return "multi-output regressors are not supported"
        return None
    return f"m2cgen exports {kind}, but it is neither a classifier nor a regressor"


def supports(estimator) -> bool:
    """True if m2cgen can export this fitted estimator and the adapter maps its output."""
    return unsupported_reason(estimator) is None


@contextlib.contextmanager
def _recursion_limit(limit: int):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def caveats(estimator) -> list[str]:
    notes = ["double precision throughout, as m2cgen generates it (software double on an "
             "FPU with single precision only, e.g. Cortex-M4F)"]
    mode = _mode(estimator)
    if mode == "ovo":
        notes.append("m2cgen returns the raw one-vs-one decision values; the adapter does "
                     "libsvm's vote")
    if _kind(estimator) in TREE_CLASSIFIERS:
        notes.append("each leaf copies a compound-literal double[n_classes] (flash-heavy)")
    return notes


def write_peer(estimator, out_dir) -> dict:
    """Write m2cgen's C code for ``estimator`` and the adapter into ``out_dir``.

    Returns {"sources", "include_dirs", "cflags", "ldflags", "method", "n_outputs", "notes"}.
    """
    reason = unsupported_reason(estimator)
    if reason is not None:
        raise ValueError(f"m2cgen peer: {reason}")
    import m2cgen

    out = _common.prepare_out_dir(out_dir)
    mode = _mode(estimator)
    n_outputs = _expected_outputs(estimator, mode)
    with _recursion_limit(EXPORT_RECURSION_LIMIT):
        code = m2cgen.export_to_c(estimator, function_name=FUNCTION_NAME)

    # Check that the generated function has the shape the adapter assumes.
    if mode in ("regress", "sign"):
        if not _SCALAR_SIG.search(code):
            raise RuntimeError(f"m2cgen peer: expected 'double {FUNCTION_NAME}(double * input)'")
    else:
        if not _VECTOR_SIG.search(code):
            raise RuntimeError(f"m2cgen peer: expected 'void {FUNCTION_NAME}(double * input, "
                               "double * output)'")
        sizes = _OUTPUT_SIZE.findall(code)
        if not sizes or int(sizes[-1]) != n_outputs:
            raise RuntimeError(f"m2cgen peer: expected {n_outputs} outputs, the generated "
                               f"code writes {sizes[-1] if sizes else 'none'}")

    src = out / GENERATED_SOURCE
    src.write_text(code)
    _common.render_model_h(out, tool=TOOL, method="export_to_c", estimator=estimator,
                           n_features=_common.n_features_of(estimator), n_outputs=n_outputs,
                           task=_common.task_of(estimator))
    n_classes = len(estimator.classes_) if mode != "regress" else 0
    model_c = _common.render("m2cgen.c.j2", out / "model.c", mode=mode, func=FUNCTION_NAME,
                             vector=mode in ("argmax", "ovo"), n_classes=n_classes,
                             generated_source=GENERATED_SOURCE)
    return {
        "sources": [os.fspath(model_c), os.fspath(src)],
        "include_dirs": [os.fspath(out)],
        "cflags": [],
        "ldflags": ["-lm"] if "#include <math.h>" in code else [],
        "method": "export_to_c",
        "n_outputs": n_outputs,
        "headers": [os.fspath(out / "model.h")],
        "notes": caveats(estimator),
    }
