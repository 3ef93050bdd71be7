"""The judge's metrics on sets whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib import judging, models


def one_hot_probs(labels: torch.Tensor, confidence: float = 0.999) -> torch.Tensor:
    probs = torch.full((len(labels), 10), (1 - confidence) / 9)
    probs[torch.arange(len(labels)), labels] = confidence
    return probs


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = torch.randn(2000, 16) @ torch.randn(16, 16)  # correlated features
    assert judging.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 8, generator=gen, dtype=torch.float64)
    b = torch.randn(20000, 8, generator=gen, dtype=torch.float64) + 2.0  # shift 2 in 8 dims: |d|^2 = 32
    assert judging.frechet_distance(a, b) == pytest.approx(32.0, rel=0.02)


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    mu_a, mu_b = np.zeros(3), np.array([1.0, 0.0, 0.0])
    cov_a, cov_b = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    expected = 1.0 + sum((np.sqrt([1.0, 4.0, 9.0]) - np.sqrt([4.0, 4.0, 1.0])) ** 2)
    assert judging.frechet_distance_from_statistics(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected)


def test_frechet_distance_survives_rank_deficient_covariances():
    features = torch.zeros(500, 10)
    features[:, :3] = torch.randn(500, 3)  # 7 dead features, as ReLU units often are
    value = judging.frechet_distance(features, features + 0.5)
    assert np.isfinite(value) and value == pytest.approx(0.25 * 10, rel=1e-3)


def test_inception_score_of_one_class_is_one():
    probs = one_hot_probs(torch.full((1000,), 3))
    mean, std = judging.inception_score(probs)
    assert mean == pytest.approx(1.0, abs=1e-6) and std == pytest.approx(0.0, abs=1e-6)


def test_inception_score_of_a_uniform_confident_mix_is_ten():
    probs = one_hot_probs(torch.arange(10000) % 10, confidence=1.0)
    mean, _ = judging.inception_score(probs)
    assert mean == pytest.approx(10.0, rel=1e-4)


def test_inception_score_of_unsure_images_is_one():
    mean, _ = judging.inception_score(torch.full((500, 10), 0.1))
    assert mean == pytest.approx(1.0)


def test_histogram_and_confidence():
    probs = one_hot_probs(torch.tensor([0, 0, 7, 9]), confidence=0.9)
    assert judging.class_histogram(probs).tolist() == [2, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    assert judging.mean_confidence(probs) == pytest.approx(0.9)


def test_score_images_crops_padded_images_and_reports_every_field():
    torch.manual_seed(0)
    judge = models.DigitClassifier()
    images = torch.rand(40, 1, 32, 32)
    _, reference = judging.judge_outputs(judge, images, torch.device("cpu"))
    assert reference.shape == (40, 128)
    score = judging.score_images(judge, images, reference, torch.device("cpu"), "noise", splits=4)
    assert score.num_images == 40 and score.histogram.sum() == 40
    assert score.frechet_distance == pytest.approx(0.0, abs=1e-3)
    assert len(score.row()) == len(judging.SCORE_HEADERS)
    assert 0 <= score.min_class_share <= 10


def test_judge_view_rejects_other_sizes():
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        judging.judge_view(torch.rand(2, 1, 30, 30))
