"""`gaussian_nb` has no fixed-point form; registered so the error says why."""
from __future__ import annotations

from . import FixedOp, fixed_op


@fixed_op("gaussian_nb")
class GaussianNBFixed(FixedOp):
    # Per-class variances span many decades (var_smoothing adds ~1e-9 of the largest), so
    # no shared Q format keeps the log-likelihoods apart.
    unsupported = "Gaussian log-likelihoods divide by variances spanning ~10 decades"
