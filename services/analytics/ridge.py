"""Ridge regression on a sparse 0/1 design, solved through its small Gram matrix.

The design has one row per video and one column per influencer, with a handful of ones per row: at
100,000 videos and 1,000 influencers it is 1.5e5 non-zeros, but 1e8 cells dense. Everything here costs
O(non-zeros x features + features^3) and never builds the dense matrix. The results equal scikit-learn's
`Ridge(alpha)` and `RidgeCV(alphas)` (leave-one-out choice of alpha) with an unpenalised intercept.
A fit that cannot give finite numbers raises FitError instead of returning NaN or inf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse

# The product's strengths, here with the fit so that every caller takes them from one place (docs/numbers.md):
# the predictor's, fixed (model.fit_predictor and its cross-validation), and the ones the attribution chooses
# among by leave-one-out (stats.attribution).
RIDGE_ALPHA = 1.0
RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)

# Rows of the design turned dense at a time when computing leverages (rows x features floats).
_BATCH_ROWS = 8192


class FitError(ArithmeticError):
    """The regression cannot be fitted to finite numbers (non-finite or overflowing scores, a singular
    system); the message says why."""


@dataclass(frozen=True, eq=False)
class RidgeFit:
    """Prediction for a row x is `intercept + x @ coef`. `coef` has one entry per column of the design."""

    coef: np.ndarray
    intercept: float
    alpha: float


def fit_ridge(x: sparse.csr_matrix, y: np.ndarray, alpha: float) -> RidgeFit:
    """Minimises |y - b - x w|^2 + alpha |w|^2 over w and the intercept b (alpha > 0)."""
    gram, xty, mean_x, mean_y = _centred_normal_equations(x, y)
    try:
        coef = linalg.cho_solve(linalg.cho_factor(gram + alpha * np.eye(len(gram))), xty)
    except (linalg.LinAlgError, ValueError) as exc:  # ValueError: scipy's refusal of inf/NaN in the matrix
        raise FitError(f"ridge regression could not be solved: {exc}") from exc
    return _finite(RidgeFit(coef, float(mean_y - mean_x @ coef), alpha))


def fit_ridge_loo(x: sparse.csr_matrix, y: np.ndarray, alphas: Sequence[float]) -> RidgeFit:
    """fit_ridge with the alpha (first of equals) of least mean squared leave-one-out error, computed
    exactly from the hat matrix: the residual left out is (y_i - yhat_i) / (1 - h_ii)."""
    gram, xty, mean_x, mean_y = _centred_normal_equations(x, y)
    eigenvalues, vectors = linalg.eigh(gram, driver="evd")
    eigenvalues = np.clip(eigenvalues, 0.0, None)  # rounding can make the zero eigenvalues slightly negative
    projected = vectors.T @ xty
    shrink = 1.0 / (eigenvalues[:, None] + np.asarray(alphas, dtype=float)[None, :])  # features x alphas
    coefs = vectors @ (projected[:, None] * shrink)  # features x alphas
    # Leverage of row i under alpha: 1/n + sum_m ((x_i - mean_x) . v_m)^2 / (lambda_m + alpha).
    n = x.shape[0]
    leverage = np.empty((n, len(alphas)))
    offset = vectors.T @ mean_x
    for start in range(0, n, _BATCH_ROWS):
        rotated = np.asarray(x[start:start + _BATCH_ROWS] @ vectors) - offset
        leverage[start:start + _BATCH_ROWS] = 1.0 / n + (rotated**2) @ shrink
    residual = (y - mean_y)[:, None] - (x @ coefs - mean_x @ coefs)
    with np.errstate(over="ignore", invalid="ignore"):
        loo_error = np.mean((residual / (1.0 - leverage)) ** 2, axis=0)
    if not np.any(np.isfinite(loo_error)):
        raise FitError("leave-one-out errors overflow (scores too large to fit)")
    best = int(np.argmin(loo_error))
    coef = coefs[:, best]
    return _finite(RidgeFit(coef, float(mean_y - mean_x @ coef), float(alphas[best])))


def _finite(fit: RidgeFit) -> RidgeFit:
    if not (np.all(np.isfinite(fit.coef)) and np.isfinite(fit.intercept)):
        raise FitError("ridge regression gave non-finite coefficients (scores too large to fit)")
    return fit


def _centred_normal_equations(
    x: sparse.csr_matrix, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(Xc'Xc, Xc'yc, column means of x, mean of y) with Xc, yc centred, computed from sparse x.
    FitError when y holds NaN or inf, or numbers whose sums overflow."""
    n = x.shape[0]
    if not np.all(np.isfinite(y)):
        raise FitError("a performance score is not a finite number")
    mean_x = np.asarray(x.mean(axis=0)).ravel()
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below, by its result
        mean_y = float(np.mean(y))
    gram = np.asarray((x.T @ x).todense()) - n * np.outer(mean_x, mean_x)
    with np.errstate(over="ignore", invalid="ignore"):
        xty = np.asarray(x.T @ y).ravel() - n * mean_x * mean_y
    if not (np.isfinite(mean_y) and np.all(np.isfinite(xty))):
        raise FitError("performance scores too large to fit (their sums overflow)")
    return gram, xty, mean_x, mean_y
