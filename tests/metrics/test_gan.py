"""FID against a direct NumPy/SciPy formula and InceptionScore against its definition, with a small network."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy import linalg

from cadence.metrics import FID, InceptionScore, NotComputableError
from cadence.metrics.gan.fid import fid_score
from cadence.metrics.gan.utils import InceptionModel
from tests.metrics._data import split


def small_network() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5), torch.nn.Tanh())


def numpy_fid(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def test_fid_with_a_small_network_matches_numpy() -> None:
    g = torch.Generator().manual_seed(1)
    fake, real = torch.rand(41, 3, 2, 2, generator=g), torch.rand(41, 3, 2, 2, generator=g) ** 2
    network = small_network()
    fid = FID(num_features=5, feature_extractor=network)
    for batch in split([fake, real], [1, 9, 30]):
        fid.update(batch)
    with torch.no_grad():
        expected = numpy_fid(network(fake).double().numpy(), network(real).double().numpy())
    assert fid.compute() == pytest.approx(expected, rel=1e-7)


def test_inception_score_matches_its_definition() -> None:
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(33, 7, generator=g, dtype=torch.float64)
    probabilities = logits.softmax(1)
    score = InceptionScore(num_features=7, feature_extractor=torch.nn.Softmax(dim=1))
    for (batch,) in split([logits], [5, 6, 20]):
        score.update(batch)
    marginal = probabilities.mean(0)
    expected = torch.exp((probabilities * (probabilities.log() - marginal.log())).sum(1).mean()).item()
    assert score.compute() == pytest.approx(expected, rel=1e-12)


def test_fid_score_edge_cases() -> None:
    with pytest.raises(ValueError, match="Imaginary component"):
        fid_score(torch.zeros(2), torch.zeros(2), torch.tensor([[-1.0, 1], [1, 1]]).double(), torch.eye(2).double())
    huge = torch.ones(2, 2, dtype=torch.float64) * torch.finfo(torch.float64).max
    with np.errstate(all="ignore"):
        assert np.isinf(fid_score(torch.zeros(2), torch.zeros(2), huge, torch.tensor([[1, 0.5], [0, 0.5]]).double()))


def test_default_network_needs_local_weights_or_a_feature_extractor() -> None:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(ModuleNotFoundError, match=r"requires torchvision.*feature_extractor"):
            FID()
        with pytest.raises(ModuleNotFoundError, match="requires torchvision"):
            InceptionModel(return_features=False)
    else:  # pragma: no cover - torchvision is not installed in CI
        with pytest.raises(FileNotFoundError, match="never downloads"):
            InceptionModel(return_features=True, weights="/nonexistent.pth")


def test_errors() -> None:
    identity = torch.nn.Identity()
    with pytest.raises(ValueError, match="num_features must be greater to zero"):
        FID(num_features=-1, feature_extractor=identity)
    with pytest.raises(ValueError, match="num_features must be provided"):
        InceptionScore(feature_extractor=identity)
    with pytest.raises(TypeError, match=r"must be of type torch\.nn\.Module"):
        FID(num_features=2, feature_extractor=lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be a tensor of dim 2, got: 1"):
        InceptionScore(num_features=3, feature_extractor=identity).update(torch.rand(3))
    with pytest.raises(ValueError, match="Batch size should be greater than one, got: 0"):
        InceptionScore(num_features=3, feature_extractor=identity).update(torch.rand(0, 3))
    with pytest.raises(ValueError, match="should be 3, got: 2"):
        InceptionScore(num_features=3, feature_extractor=identity).update(torch.rand(4, 2))
    with pytest.raises(ValueError, match=re.escape("should be equal (torch.Size([4, 2]) != torch.Size([3, 2]))")):
        FID(num_features=2, feature_extractor=identity).update((torch.rand(4, 2), torch.rand(3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        FID(num_features=1, feature_extractor=identity).update((torch.tensor([[float("nan")]]), torch.zeros(1, 1)))
    with pytest.raises(ValueError, match="probabilities"):
        InceptionScore(num_features=2, feature_extractor=identity).update(torch.tensor([[-1.0, 2.0]]))
    with pytest.raises(NotComputableError):
        InceptionScore(num_features=2, feature_extractor=identity).compute()
    with pytest.raises(NotComputableError):
        FID(num_features=2, feature_extractor=identity).compute()
