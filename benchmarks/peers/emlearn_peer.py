"""emlearn peer: C code from ``emlearn.convert``, plus our adapter to the harness contract.

What emlearn 0.23 can export, and what this adapter wires up (``supports``):

* DecisionTree / RandomForest / ExtraTrees, classifier and regressor (single output):
  ``emlearn.convert(est, method='inline', dtype='float')``. ``inline`` (a C function of
  nested if/else per tree, thresholds as immediate constants) is emlearn's default for trees
  and the faster of its two strategies; it is also the only one that takes float features:
  ``method='loadable'`` (a node table walked by ``eml_trees.h``) accepts only
  ``dtype='int16_t'``, which truncates both the thresholds and the inputs.
* GaussianNB: ``method='loadable'`` (the only one; emlearn raises NotImplementedError for
  'inline'). Q16.16 fixed point; class priors are not used.
* KNeighborsClassifier (euclidean, uniform weights): ``method='loadable'`` (the only one).
  int16_t features and training data; input floats are truncated like emlearn's own wrapper.

* MLPClassifier / MLPRegressor (at least one hidden layer): ``method='loadable'``
  (``eml_net.h``, float32; weights printed with 6 decimals). Returns the class index or
  the value.

Not exportable by emlearn: LogisticRegression, SVC, KMeans, IsolationForest (``emlearn.convert``
raises ``ValueError: Unknown model type``). emlearn also exports GaussianMixture and
EllipticEnvelope, which this adapter does not wire up (``supports`` says False).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from . import _common

TOOL = "emlearn"
NAME = "ek_peer"  # C prefix of everything emlearn generates
GENERATED_HEADER = "emlearn_model.h"

TREE_ESTIMATORS = {
    "DecisionTreeClassifier", "DecisionTreeRegressor",
    "RandomForestClassifier", "RandomForestRegressor",
    "ExtraTreesClassifier", "ExtraTreesRegressor",
}
# Compile-time defaults in emlearn's headers (eml_bayes.h, eml_neighbors.h)
EML_DEFAULT_MAX_CLASSES = 10
# EmlNeighborsDistanceItem.index and EmlNeighborsModel.n_items are int16_t
EML_NEIGHBORS_MAX_ITEMS = 32767
# trees.Wrapper refuses more for method='inline'
EML_INLINE_MAX_FEATURES = 10000

_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"](eml_\w+\.h)[>"]', re.MULTILINE)


def _import_emlearn():
    """Import emlearn without letting it change numpy's global error state.

    ``emlearn/bayes.py`` runs ``numpy.seterr(all='raise')`` at import time, which would turn
    every later floating-point warning in the process (scikit-learn included) into an error.
    """
    import numpy

    saved = numpy.geterr()
    try:
        import emlearn
    finally:
        numpy.seterr(**saved)
    return emlearn


@contextlib.contextmanager
def _numpy_errstate_preserved():
    import numpy

    saved = numpy.geterr()
    try:
        yield
    finally:
        numpy.seterr(**saved)


@contextlib.contextmanager
def _scratch_cwd():
    """emlearn's GaussianNB and kNN wrappers compile a test program into ``./tmp`` of the
    current directory when converting; keep that out of the caller's directory."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="ek-emlearn-") as tmp:
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(old)


def _kind(estimator) -> str:
    return type(estimator).__name__


def _is_fitted(estimator) -> bool:
    return hasattr(estimator, "n_features_in_")


def _n_classes(estimator) -> int:
    return len(estimator.classes_)


def unsupported_reason(estimator) -> str | None:
    """None if ``write_peer`` can export ``estimator``, else a one-line reason."""
    try:
        _import_emlearn()
    except Exception as exc:  # pragma: no cover - emlearn missing or broken
        return f"emlearn cannot be imported: {exc}"
    if not _is_fitted(estimator):
        return "estimator is not fitted"
    kind = _kind(estimator)
    task = _common.task_of(estimator)

    if kind in TREE_ESTIMATORS:
        if getattr(estimator, "n_outputs_", 1) != 1:
            return "emlearn trees support a single output only"
        if task == _common.TASK_CLASSIFY and _n_classes(estimator) < 2:
            return "a classifier needs at least 2 classes"
        if _common.n_features_of(estimator) > EML_INLINE_MAX_FEATURES:
            return f"emlearn inline trees take at most {EML_INLINE_MAX_FEATURES} features"
        return None

    if kind == "GaussianNB":
        if _n_classes(estimator) < 2:
            return "eml_bayes_predict needs at least 2 classes"
        return None

    if kind == "KNeighborsClassifier":
        if getattr(estimator, "outputs_2d_", False):
            return "emlearn kNN supports a single output only"
        if getattr(estimator, "effective_metric_", None) != "euclidean":
            return f"emlearn kNN supports the euclidean metric only, not {estimator.effective_metric_!r}"
        if estimator.weights != "uniform":
            return "emlearn kNN supports weights='uniform' only"
        if estimator.n_samples_fit_ > EML_NEIGHBORS_MAX_ITEMS:
            return f"emlearn kNN stores at most {EML_NEIGHBORS_MAX_ITEMS} samples (int16 index)"
        return None

    if kind in ("MLPClassifier", "MLPRegressor"):
        if len(estimator.coefs_) < 2:
            return "emlearn nets need at least one hidden layer"
        if estimator.activation not in ("relu", "tanh", "logistic", "identity"):
            return f"emlearn nets have no {estimator.activation!r} activation"
        if kind == "MLPRegressor" and (estimator.n_outputs_ != 1 or estimator.out_activation_ != "identity"):
            return "the adapter wires single-output identity MLPRegressors only"
        if kind == "MLPClassifier" and estimator.out_activation_ not in ("softmax", "logistic"):
            return "multi-label MLPClassifier is not wired up"
        return None

    if kind in ("GaussianMixture", "BayesianGaussianMixture", "EllipticEnvelope"):
        return f"emlearn exports {kind}, but this adapter does not wire it up"
    return f"emlearn has no converter for {kind}"


def supports(estimator) -> bool:
    """True if emlearn can export this fitted estimator and the adapter maps its output."""
    return unsupported_reason(estimator) is None


def caveats(estimator) -> list[str]:
    """Known ways emlearn's C output can disagree with scikit-learn's predict."""
    kind = _kind(estimator)
    notes: list[str] = []
    if kind in TREE_ESTIMATORS:
        notes.append("thresholds are printed with 6 decimals ('%.6f') and compared with '<' "
                     "(scikit-learn: '<=' on the exact float32 threshold); features with "
                     "more than 6 decimals can land on the other side")
        if kind != "DecisionTreeClassifier" and _common.task_of(estimator) == _common.TASK_CLASSIFY:
            notes.append("forest classifiers use hard majority voting (emlearn's default "
                         "leaf_bits=0); scikit-learn averages the trees' probabilities")
    elif kind in ("MLPClassifier", "MLPRegressor"):
        notes.append("weights and biases are printed with 6 decimals ('%f'): small weights lose "
                     "most of their digits")
    elif kind == "GaussianNB":
        notes.append("Q16.16 fixed-point log-likelihood with a quadratic log-pdf; class priors "
                     "ignored; the summaries table is non-const (in .data, so RAM)")
    elif kind == "KNeighborsClassifier":
        import numpy

        X = numpy.asarray(estimator._fit_X)
        if not numpy.array_equal(X, numpy.trunc(X)):
            notes.append("training data is not integer-valued: emlearn stores it as int16_t "
                         "(truncated) and the inputs are truncated too; expect disagreement")
        notes.append("distances are integer square roots (many ties) and sorted with an "
                     "unstable quicksort over all stored samples on every call")
    return notes


def _copy_emlearn_headers(code: str, include_dir: Path, out_dir: Path) -> list[Path]:
    """Copy the eml_*.h headers that ``code`` includes, transitively, into ``out_dir``."""
    copied: list[Path] = []
    pending = list(_INCLUDE_RE.findall(code))
    seen: set[str] = set()
    while pending:
        header = pending.pop()
        if header in seen:
            continue
        seen.add(header)
        src = include_dir / header
        if not src.is_file():
            continue  # e.g. a header behind a platform #ifdef that emlearn does not ship
        dst = out_dir / header
        shutil.copyfile(src, dst)
        copied.append(dst)
        pending.extend(_INCLUDE_RE.findall(src.read_text()))
    return sorted(copied)


def write_peer(estimator, out_dir) -> dict:
    """Write emlearn's C code for ``estimator`` and the adapter into ``out_dir``.

    Returns {"sources", "include_dirs", "cflags", "ldflags", "method", "n_outputs", "notes"}.
    """
    reason = unsupported_reason(estimator)
    if reason is not None:
        raise ValueError(f"emlearn peer: {reason}")
    emlearn = _import_emlearn()
    out = _common.prepare_out_dir(out_dir)
    kind = _kind(estimator)
    task = _common.task_of(estimator)
    n_features = _common.n_features_of(estimator)
    cflags: list[str] = []
    ldflags: list[str] = []

    with _numpy_errstate_preserved():
        if kind in TREE_ESTIMATORS:
            method = "inline"
            model = emlearn.convert(estimator, method=method, dtype="float")
            code = model.save(name=NAME)
            template = "emlearn_trees.c.j2"
            classifier = task == _common.TASK_CLASSIFY
            n_outputs = _n_classes(estimator) if classifier else 1
            context = {"classifier": classifier}
        elif kind == "GaussianNB":
            method = "loadable"
            with _scratch_cwd():
                model = emlearn.convert(estimator, method=method)
            code = model.save(name=NAME)
            template = "emlearn_bayes.c.j2"
            n_outputs = 1
            context = {}
            if _n_classes(estimator) > EML_DEFAULT_MAX_CLASSES:
                cflags.append(f"-DEML_MAX_CLASSES={_n_classes(estimator)}")
        elif kind in ("MLPClassifier", "MLPRegressor"):
            method = "loadable"
            classifier = kind == "MLPClassifier"
            with _scratch_cwd():  # emlearn compiles a test program into ./tmp while converting
                model = emlearn.convert(estimator, method=method,
                                        return_type="classifier" if classifier else "regressor")
            code = model.save(name=NAME)
            template = "emlearn_net.c.j2"
            n_outputs = 1
            context = {"classifier": classifier}
            ldflags.append("-lm")  # expf, tanhf, logf
        else:  # KNeighborsClassifier
            method = "loadable"
            with _scratch_cwd():
                model = emlearn.convert(estimator, method=method)
            code = model.save(name=NAME)
            template = "emlearn_neighbors.c.j2"
            n_outputs = 1
            context = {"n_items": int(estimator.n_samples_fit_)}
            if _n_classes(estimator) > EML_DEFAULT_MAX_CLASSES:
                cflags.append(f"-DEML_NEIGHBORS_MAX_CLASSES={_n_classes(estimator)}")

    (out / GENERATED_HEADER).write_text(code)
    headers = _copy_emlearn_headers(code, Path(emlearn.includedir), out)
    _common.render_model_h(out, tool=TOOL, method=method, estimator=estimator,
                           n_features=n_features, n_outputs=n_outputs, task=task)
    model_c = _common.render(template, out / "model.c", name=NAME, method=method,
                             generated_header=GENERATED_HEADER, **context)
    return {
        "sources": [os.fspath(model_c)],
        "include_dirs": [os.fspath(out)],
        "cflags": cflags,
        "ldflags": ldflags,
        "method": method,
        "n_outputs": n_outputs,
        "headers": _common.as_posix_list([out / "model.h", out / GENERATED_HEADER, *headers]),
        "notes": caveats(estimator),
    }
