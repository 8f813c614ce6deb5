"""Shared fixtures: data sets (scikit-learn's shipped ones and seeded generators), the model
zoo, and the exactness checks every parity test applies."""
from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

from edgekiln.report import reference_margins


@pytest.fixture(autouse=True)
def _numpy_errstate_per_test():
    """Each test starts from numpy's default error state: a library imported during one test
    (emlearn's bayes module calls numpy.seterr(all='raise') on import) must not turn later
    tests' harmless underflows into FloatingPointError, whichever worker runs them."""
    saved = np.seterr(all="warn", under="ignore")
    yield
    np.seterr(**saved)

warnings.filterwarnings("ignore")

DATASETS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}


def dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = DATASETS[name](return_X_y=True)
    return X, y


def _missing(t) -> str | None:
    """Why target t cannot run here (its compiler or simulator absent), or None."""
    if t.compiler_path() is None:
        return f"{t.cc} not installed: apt-get install {' '.join(t.toolchain_apt)}"
    if t.simulator.get("name") != "native" and t.simulator_path() is None:
        return f"{t.simulator['binary']} not installed: apt-get install {' '.join(t.simulator.get('apt_packages', []))}"
    return None


def targets_where(*, kind: tuple[str, ...] | None = None, min_cores: int = 1, fpu: bool | None = None,
                  simulator: tuple[str, ...] | None = None, parallel: tuple[str, ...] | None = None) -> list[str]:
    """Names of the registered targets (targets/registry.py, $EDGEKILN_TARGETS included)
    whose target.toml declares: a `kind` among `kind`, at least `min_cores` cores, an FPU
    (fpu=True) or soft float (fpu=False), a simulator among `simulator`, a team port
    (`parallel`) among `parallel`. None: any. Tests take their targets from here, so a new
    target folder joins them with no test edits."""
    from edgekiln.targets.registry import all_targets

    def keep(t) -> bool:
        return ((kind is None or t.kind in kind) and t.cores >= min_cores
                and (fpu is None or fpu == (not t.fpu.startswith("none")))
                and (simulator is None or t.simulator.get("name") in simulator)
                and (parallel is None or t.parallel in parallel))

    return [name for name, t in all_targets().items() if keep(t)]


def target_params(names: list[str]) -> list:
    """pytest params for these targets, id = name: marked `qemu` (or `gvsoc`) when they run on
    that simulator, and skipped, with the install command, when their toolchain is absent."""
    from edgekiln.targets import get_target

    params = []
    for name in names:
        t = get_target(name)
        marks = [getattr(pytest.mark, t.simulator["name"])] if t.simulator.get("name") in ("qemu", "gvsoc") else []
        why = _missing(t)
        if why:
            marks.append(pytest.mark.skip(reason=why))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def require_target(name: str) -> None:
    """Skip (with the install command) when a target's toolchain or simulator is absent."""
    from edgekiln.targets import get_target

    why = _missing(get_target(name))
    if why:
        pytest.skip(reason=why)


def as_float32(X: np.ndarray) -> np.ndarray:
    """The inputs the device sees; scikit-learn gets the same values as the reference."""
    return np.asarray(X, dtype=np.float32).astype(np.float64)


def assert_parity(cm, est, X: np.ndarray, *, exact: bool, tie_margin: float = 1e-4,
                  near_tie=None, min_agreement: float = 0.999) -> None:
    """The exactness rules of the foundation issue.

    exact (trees/forests): labels identical for every sample; regression within 1e-5 relative.
    otherwise: >= 99.9% identical labels, every mismatch a near-tie (scikit-learn's margin
    below tie_margin, or `near_tie(i)` true), probabilities within 1e-4 absolute.
    min_agreement is lowered only for data built to be full of exact distance ties (kNN on
    duplicated rows), where every mismatch must still be such a tie.
    """
    X32 = as_float32(X)
    task = cm.graph.task
    got = cm.predict(X32)
    ref = est.predict(X32)
    if task == "regress":
        rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1.0)
        limit = 1e-5 if exact else 1e-4
        assert rel.max() <= limit, f"regression error {rel.max():.3g} > {limit}"
        return
    same = got == ref
    if exact:
        assert same.all(), f"{(~same).sum()} of {len(X)} labels differ at rows {np.flatnonzero(~same)[:10]}"
    else:
        assert same.mean() >= min_agreement or (~same).sum() <= 1, \
            f"agreement {same.mean():.4f} < {min_agreement:.3%}"
        if not same.all():
            margins = reference_margins(est, X32)
            for i in np.flatnonzero(~same):
                tie = (margins is not None and margins[i] < tie_margin) or (near_tie is not None and near_tie(i))
                assert tie, f"row {i}: device {got[i]} vs scikit-learn {ref[i]} is not a near-tie " \
                            f"(margin {None if margins is None else margins[i]})"
    if cm.graph.score_kind == "proba":
        p = cm.predict_proba(X32)
        q = est.predict_proba(X32)
        bad = np.abs(p - q).max(axis=1) > 1e-4
        for i in np.flatnonzero(bad):
            assert near_tie is not None and near_tie(i), \
                f"row {i}: probabilities differ by {np.abs(p[i] - q[i]).max():.3g} > 1e-4"


def knn_boundary_tie(est, X32: np.ndarray):
    """True where the k-th and (k+1)-th nearest training rows are equally far (float64):
    which of them counts is arbitrary in scikit-learn as well."""
    k = est.n_neighbors
    fit_X = est._fit_X
    p = 1 if est.effective_metric_ in ("manhattan", "cityblock", "l1") or \
        (est.effective_metric_ == "minkowski" and est.effective_metric_params_.get("p") == 1) else 2

    def check(i: int) -> bool:
        diff = np.abs(fit_X - X32[i])
        d = diff.sum(axis=1) if p == 1 else np.sqrt((diff ** 2).sum(axis=1))
        s = np.sort(d)
        return len(s) > k and abs(s[k] - s[k - 1]) <= 1e-6 * max(1.0, s[k])

    return check


def near_tie_for(est, X):
    """The near-tie rule for a (pipeline of) estimator: kNN boundary ties, else none."""
    final = est.steps[-1][1] if hasattr(est, "steps") else est
    if hasattr(final, "n_neighbors"):
        Xt = as_float32(X)
        if hasattr(est, "steps"):
            for _, step in est.steps[:-1]:
                Xt = step.transform(Xt)
        return knn_boundary_tie(final, Xt)
    return None


@pytest.fixture(scope="session")
def toolchains_ok():
    return shutil.which("arm-none-eabi-gcc") is not None
