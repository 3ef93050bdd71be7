from __future__ import annotations

import numpy as np
import torch

from lib import analysis


def test_pca_error_falls_with_components_and_is_zero_at_full_rank():
    torch.manual_seed(0)
    data = torch.randn(200, 3) @ torch.randn(3, 6)  # rank 3
    pca = analysis.PCA.fit(data, 6)
    errors = [pca.reconstruction_mse(data, k) for k in range(1, 5)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-8
    assert abs(analysis.latent_correlation(pca.encode(data, 3)).mean_abs_offdiag) < 1e-6  # PCA codes are uncorrelated


def test_correlation_summary_and_constant_coordinates():
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    codes = np.stack([a, -a + 0.01 * rng.normal(size=5000), np.full(5000, 3.0), rng.normal(size=5000)], axis=1)
    summary = analysis.latent_correlation(codes)
    assert summary.constant == [2]
    assert np.isnan(summary.matrix[2]).all()
    assert summary.max_abs_offdiag > 0.99
    live = summary.matrix[np.ix_([0, 1, 3], [0, 1, 3])]
    assert np.isclose(summary.mean_abs_offdiag, np.abs(live[~np.eye(3, dtype=bool)]).mean())


def test_independent_floor_matches_theory():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(4000, 10)) @ rng.normal(size=(10, 10))  # correlated
    floor = analysis.independent_floor(codes)
    assert abs(floor - np.sqrt(2 / (np.pi * 4000))) < 0.005
    assert analysis.latent_correlation(codes).mean_abs_offdiag > 3 * floor


def test_mean_std():
    assert analysis.mean_std([1.0, 3.0]) == (2.0, np.std([1.0, 3.0], ddof=1))
    assert analysis.mean_std([5.0]) == (5.0, 0.0)
