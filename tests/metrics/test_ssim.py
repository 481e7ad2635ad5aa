"""SSIM against a direct NumPy/SciPy formula (reflect padding) and scikit-image; PSNR against scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cadence.metrics import PSNR, SSIM, NotComputableError
from tests.metrics._data import split


def numpy_ssim(x: np.ndarray, y: np.ndarray, size: int, sigma: float, gaussian: bool, data_range: float) -> float:
    """Mean SSIM map per image (separable window on reflect-padded maps), averaged over images."""
    from scipy.ndimage import correlate1d

    offsets = np.arange(size) - (size - 1) / 2
    window = np.exp(-0.5 * (offsets / sigma) ** 2) if gaussian else np.ones(size)
    window /= window.sum()
    pad = (size - 1) // 2
    spatial = tuple(range(2, x.ndim))

    def local_mean(a: np.ndarray) -> np.ndarray:
        a = np.pad(a, [(0, 0), (0, 0)] + [(pad, pad)] * len(spatial), mode="reflect")
        for axis in spatial:
            a = correlate1d(a, window, axis=axis, mode="constant")
        return a[(slice(None), slice(None), *[slice(pad, -pad or None)] * len(spatial))]

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = local_mean(x), local_mean(y)
    vx, vy, cxy = local_mean(x * x) - mx**2, local_mean(y * y) - my**2, local_mean(x * y) - mx * my
    ssim_map = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(ssim_map.reshape(len(x), -1).mean(1).mean())


@pytest.mark.parametrize(
    ("shape", "size", "gaussian", "ndims"),
    [
        ((7, 3, 29, 23), 11, True, 2),
        ((5, 2, 16, 16), 7, False, 2),
        ((4, 1, 12, 11, 13), 5, True, 3),
        ((2, 2, 150, 70), 11, True, 2),  # axes longer than one block of the banded products
        ((2, 1, 8, 9, 90), 5, False, 3),
    ],
)
def test_ssim_matches_the_direct_formula(shape: tuple[int, ...], size: int, gaussian: bool, ndims: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    y = (x * 0.7 + 0.3 * torch.rand(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    metric = SSIM(data_range=1.0, kernel_size=size, gaussian=gaussian, ndims=ndims)
    for batch in split([x, y], [1, 1, 3]):
        metric.update(batch)
    expected = numpy_ssim(x.numpy(), y.numpy(), size, 1.5, gaussian, 1.0)
    assert metric.compute() == pytest.approx(expected, rel=1e-10)


def test_ssim_is_close_to_scikit_image() -> None:
    from skimage.metrics import structural_similarity

    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 64, 64, generator=g, dtype=torch.float64)
    y = (x + 0.1 * torch.randn(1, 1, 64, 64, generator=g, dtype=torch.float64)).clamp(0, 1)
    _, ski_map = structural_similarity(
        x[0, 0].numpy(), y[0, 0].numpy(), data_range=1.0, gaussian_weights=True, sigma=1.5, full=True
    )
    ours = SSIM(data_range=1.0)
    ours.update((x, y))
    # Only the borders differ (scikit-image pads symmetrically, cadence and Ignite by reflection).
    assert ours.compute() == pytest.approx(float(ski_map.mean()), abs=0.01)


def test_ssim_uint8_float32_and_identical_images() -> None:
    g = torch.Generator().manual_seed(2)
    images = torch.randint(0, 256, (3, 3, 20, 20), generator=g, dtype=torch.uint8)
    metric = SSIM(data_range=255)
    metric.update((images, images))
    assert metric.compute() == pytest.approx(1.0, abs=1e-6)
    metric.reset()
    metric.update((images.float(), (images.float() * 0.8)))
    assert metric.compute() == pytest.approx(
        numpy_ssim(images.double().numpy(), images.double().numpy() * 0.8, 11, 1.5, True, 255), abs=1e-5
    )


def test_ssim_errors() -> None:
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match="odd positive number"):
        SSIM(data_range=1.0, kernel_size=2)
    with pytest.raises(ValueError, match="kernel_size should be either int or a sequence of int"):
        SSIM(data_range=1.0, kernel_size=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sigma should be either float or a sequence of float"):
        SSIM(data_range=1.0, sigma=1)
    with pytest.raises(ValueError, match="Expected sigma to have positive number"):
        SSIM(data_range=1.0, sigma=(-1.0, 1.0))
    with pytest.raises(ValueError, match="Expected ndims to be 2 or 3"):
        SSIM(data_range=1.0, ndims=4)
    with pytest.raises(ValueError, match="positive data_range"):
        SSIM(data_range=0)
    with pytest.raises(TypeError, match="same data type"):
        SSIM(data_range=1.0).update((x, x.double()))
    with pytest.raises(ValueError, match="same shape"):
        SSIM(data_range=1.0).update((x, x[0]))
    with pytest.raises(ValueError, match="BxCxHxW or BxCxDxHxW"):
        SSIM(data_range=1.0, ndims=3).update((x, x))
    with pytest.raises(ValueError, match="too small for kernel_size"):
        SSIM(data_range=1.0).update((x[..., :4, :4], x[..., :4, :4]))
    with pytest.raises(ValueError, match="NaN"):
        SSIM(data_range=1.0).update((torch.full_like(x, float("nan")), x))
    with pytest.raises(NotComputableError):
        SSIM(data_range=1.0).compute()


def test_psnr_matches_scikit_image() -> None:
    from skimage.metrics import peak_signal_noise_ratio

    g = torch.Generator().manual_seed(3)
    x = torch.rand(11, 3, 8, 8, generator=g)
    y = (x + 0.05 * torch.randn(11, 3, 8, 8, generator=g)).clamp(0, 1)
    psnr = PSNR(data_range=1.0)
    for batch in split([x, y], [2, 2, 7]):
        psnr.update(batch)
    expected = np.mean(
        [peak_signal_noise_ratio(b.numpy(), a.numpy(), data_range=1.0) for a, b in zip(x, y, strict=True)]
    )
    assert psnr.compute() == pytest.approx(expected, rel=1e-5)


def test_psnr_errors() -> None:
    with pytest.raises(TypeError, match="same data type"):
        PSNR(1.0).update((torch.rand(1, 4), torch.rand(1, 4).double()))
    with pytest.raises(ValueError, match="same shape"):
        PSNR(1.0).update((torch.rand(1, 4), torch.rand(1, 5)))
    with pytest.raises(ValueError, match="positive data_range"):
        PSNR(-1.0)
    with pytest.raises(ValueError, match="NaN"):
        PSNR(1.0).update((torch.tensor([[float("nan")]]), torch.tensor([[0.0]])))
    with pytest.raises(NotComputableError, match="at least one example"):
        PSNR(1.0).compute()
