"""FID against a direct NumPy/SciPy formula and InceptionScore against its definition, with a small network."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from scipy import linalg

from cadence.metrics import FID, InceptionScore, NotComputableError
from cadence.metrics.gan.fid import _trace_of_root, fid_score
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


def sqrtm_fid(mu1: np.ndarray, mu2: np.ndarray, cov1: np.ndarray, cov2: np.ndarray) -> float:
    """The textbook formula, with SciPy's general matrix square root."""
    root = linalg.sqrtm(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root))


def random_features(rng: np.random.Generator, samples: int, size: int, kind: str) -> np.ndarray:
    features = rng.normal(size=(samples, size)) @ rng.normal(size=(size, size)) + rng.normal(size=size)
    if kind == "near-collinear":  # a third of the features repeat others up to 1e-9: eigenvalues near 0
        third = size // 3
        features[:, :third] = features[:, third : 2 * third] + 1e-9 * rng.normal(size=(samples, third))
    if kind == "scaled":  # features of very different scales
        features *= np.logspace(-3, 3, size)
    return features


@pytest.mark.parametrize("kind", ["full", "near-collinear", "scaled"])
@pytest.mark.parametrize(("samples", "size"), [(200, 2), (300, 30), (40, 30), (31, 30), (12, 30), (5, 64)])
def test_fid_score_equals_the_sqrtm_formula(kind: str, samples: int, size: int) -> None:
    """The eigenvalue route equals SciPy's sqrtm route on covariances of full rank, singular ones (fewer samples
    than features) and nearly singular ones."""
    rng = np.random.default_rng(samples * 100 + size)
    a = random_features(rng, samples, size, kind)
    b = random_features(rng, samples + 3, size, "full") * 0.7 + 0.2
    mu1, mu2, cov1, cov2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy warns that singular products make its own result less accurate
        expected = sqrtm_fid(mu1, mu2, cov1, cov2)
    for first, second in (((mu1, cov1), (mu2, cov2)), ((mu2, cov2), (mu1, cov1))):
        tensors = [torch.from_numpy(array) for array in (first[0], second[0], first[1], second[1])]
        assert fid_score(*tensors) == pytest.approx(expected, rel=1e-6)
        assert _trace_of_root(tensors[2], tensors[3]) is not None  # the eigenvalue route, not SciPy's fallback


def test_fid_score_of_matrices_that_are_not_covariances_follows_sqrtm() -> None:
    """Non-symmetric or indefinite inputs go through SciPy's general square root, as before."""
    zero = torch.zeros(2, dtype=torch.float64)
    lopsided = torch.tensor([[2.0, 0.5], [0.0, 1.0]], dtype=torch.float64)
    spd = torch.tensor([[1.0, 0.3], [0.3, 2.0]], dtype=torch.float64)
    expected = sqrtm_fid(np.zeros(2), np.zeros(2), lopsided.numpy(), spd.numpy())
    assert fid_score(zero, zero, lopsided, spd) == pytest.approx(expected, rel=1e-12)
    slightly_indefinite = torch.tensor([[1.0, 0.0], [0.0, -1e-8]], dtype=torch.float64)
    expected = sqrtm_fid(np.zeros(2), np.zeros(2), slightly_indefinite.numpy(), spd.numpy())
    assert fid_score(zero, zero, slightly_indefinite, spd) == pytest.approx(expected, rel=1e-9)
    assert fid_score(zero, zero, torch.zeros(2, 2).double(), torch.zeros(2, 2).double()) == 0.0


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
