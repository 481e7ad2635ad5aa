"""What the GAN metrics share: a feature network (given by the user, or Inception v3 from local weights) and
the checks of its output; :class:`InceptionModel`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from cadence.metrics.metric import Metric as Metric
from cadence.metrics.metric import identity

__all__ = ["WEIGHTS_ENV", "InceptionModel"]

WEIGHTS_ENV = "CADENCE_INCEPTION_WEIGHTS"
"""The environment variable that may name a local file of Inception v3 weights (torchvision's state dict)."""

_TORCHVISION_FILE = "inception_v3_google-0cc3c7bd.pth"


def _weights_file(weights: str | os.PathLike[str] | None) -> Path:
    """The local weights file: ``weights``, else ``$CADENCE_INCEPTION_WEIGHTS``, else torchvision's cached copy."""
    candidates = [weights, os.environ.get(WEIGHTS_ENV), Path(torch.hub.get_dir()) / "checkpoints" / _TORCHVISION_FILE]
    for candidate in candidates:
        if candidate is not None and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "No Inception v3 weights found, and cadence never downloads them: pass weights=<path to torchvision's "
        f"{_TORCHVISION_FILE}>, set {WEIGHTS_ENV} to that path, place it in {candidates[-1]}, or give the metric "
        "your own feature network with num_features=... and feature_extractor=..."
    )


class InceptionModel(nn.Module):
    """Inception v3 (torchvision's architecture) as a feature network: 2048 pooled features
    (``return_features=True``) or 1000 class probabilities, for images ``(N, 3, H, W)``.

    The weights are read from a local file (``weights``, ``$CADENCE_INCEPTION_WEIGHTS`` or torchvision's cache),
    never downloaded; without torchvision or the file, building the model raises an error that says what to do.

    Example:
        >>> try:
        ...     InceptionModel(return_features=True, weights="no-such-file.pth")
        ... except (ModuleNotFoundError, FileNotFoundError) as error:
        ...     print("needs torchvision or the weights file")
        needs torchvision or the weights file
    """

    def __init__(
        self,
        return_features: bool,
        device: str | torch.device = "cpu",
        *,
        weights: str | os.PathLike[str] | None = None,
    ) -> None:
        try:
            from torchvision import models  # type: ignore[import-not-found,unused-ignore]  # optional dependency
        except ImportError as error:
            raise ModuleNotFoundError(
                "This module requires torchvision to be installed (pip install torchvision) for the default "
                "Inception feature network; or give your own with num_features=... and feature_extractor=..."
            ) from error
        super().__init__()
        path = _weights_file(weights)
        self._device = torch.device(device)
        model = models.inception_v3(weights=None, aux_logits=True, init_weights=False)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        if return_features:
            model.fc = nn.Identity()  # the pooled features instead of the logits
        self._model = model.eval().to(self._device)
        self._return_features = return_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features or class probabilities of ``images`` ``(N, 3, H, W)``."""
        if images.dim() != 4:
            raise ValueError(f"Inputs should be a tensor of dim 4, got {images.dim()}")
        if images.shape[1] != 3:
            raise ValueError(f"Inputs should be a tensor with 3 channels, got {tuple(images.shape)}")
        output = self._model(images.to(self._device))
        return output if self._return_features else torch.softmax(output, dim=1)


class _FeatureMetric(Metric):
    """A metric over the features that a network gives for its inputs, checked batch by batch."""

    required_output_keys: ClassVar[tuple[str, ...] | None] = None

    def __init__(
        self,
        num_features: int | None,
        feature_extractor: nn.Module | None,
        output_transform: Callable[[Any], Any] = identity,
        *,
        device: str | torch.device = "cpu",
        default: Callable[[], tuple[int, nn.Module]],
    ) -> None:
        if num_features is None and feature_extractor is not None:
            raise ValueError("Argument num_features must be provided, if feature_extractor is specified.")
        if feature_extractor is not None and not isinstance(feature_extractor, nn.Module):
            raise TypeError(
                f"Argument feature_extractor must be of type torch.nn.Module, got {type(feature_extractor).__name__}"
            )
        if num_features is not None and (not isinstance(num_features, int) or num_features <= 0):
            raise ValueError(f"Argument num_features must be greater to zero, got: {num_features}")
        if feature_extractor is None:
            default_features, feature_extractor = default() if num_features is None else (num_features, nn.Identity())
            num_features = default_features if num_features is None else num_features
        self._num_features = int(num_features)  # type: ignore[arg-type]  # set just above
        self._feature_extractor = feature_extractor
        super().__init__(output_transform, device=device)

    def _config(self) -> dict[str, Any]:
        return {"num_features": self._num_features}

    def _features(self, inputs: torch.Tensor, *, check_nan: bool = True) -> torch.Tensor:
        """The extractor's float64 features ``(N, num_features)`` of ``inputs``, checked (for NaN too, unless the
        caller checks a sum of them, which is cheaper)."""
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"{type(self).__name__} takes tensors, got {type(inputs).__name__}.")
        with torch.no_grad():
            features = self._feature_extractor(inputs.detach())
        if not isinstance(features, torch.Tensor) or features.dim() != 2:
            dims = features.dim() if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"feature_extractor output must be a tensor of dim 2, got: {dims}")
        if features.shape[0] == 0:
            raise ValueError(f"Batch size should be greater than one, got: {features.shape[0]}")
        if features.shape[1] != self._num_features:
            raise ValueError(
                f"num_features returned by feature_extractor should be {self._num_features}, got: {features.shape[1]}"
            )
        features = features.to(self._device, torch.float64)
        if check_nan and bool(torch.isnan(features).any()):
            raise ValueError(f"{type(self).__name__}: the feature network returned NaN features.")
        return features
