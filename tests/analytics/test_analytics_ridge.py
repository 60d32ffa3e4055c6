"""Congruence of our sparse ridge solver with scikit-learn's dense Ridge and RidgeCV."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.linear_model import Ridge, RidgeCV

from services.analytics.ridge import fit_ridge, fit_ridge_loo

ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)


def design(seed: int, rows: int = 400, cols: int = 30) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A 0/1 design with about two ones per row, two identical columns and one empty row or more."""
    rng = np.random.default_rng(seed)
    dense = (rng.random((rows, cols)) < 2 / cols).astype(float)
    dense[:, 1] = dense[:, 0]
    y = 1.0 + dense @ rng.normal(0, 0.5, cols) + rng.normal(0, 0.3 + seed, rows)
    return sparse.csr_matrix(dense), y


@pytest.mark.parametrize("alpha", [0.01, 1.0, 100.0])
def test_fit_ridge_equals_sklearn_ridge_with_an_intercept(alpha: float) -> None:
    x, y = design(seed=0)
    ours = fit_ridge(x, y, alpha)
    theirs = Ridge(alpha=alpha).fit(x.toarray(), y)
    assert np.allclose(ours.coef, theirs.coef_, atol=1e-9)
    assert ours.intercept == pytest.approx(theirs.intercept_, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_fit_ridge_loo_picks_the_same_alpha_and_coefficients_as_sklearn_ridgecv(seed: int) -> None:
    x, y = design(seed)
    ours = fit_ridge_loo(x, y, ALPHAS)
    theirs = RidgeCV(alphas=ALPHAS).fit(x.toarray(), y)
    assert ours.alpha == theirs.alpha_
    assert np.allclose(ours.coef, theirs.coef_, atol=1e-8)
    assert ours.intercept == pytest.approx(theirs.intercept_, abs=1e-8)
