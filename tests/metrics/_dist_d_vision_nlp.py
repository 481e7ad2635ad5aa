"""Helper D's metrics for the 2-process check: text, ranking, image, generative and detection metrics."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch

from cadence.metrics import (
    FID,
    NDCG,
    PSNR,
    SSIM,
    Bleu,
    CharacterErrorRate,
    CommonObjectDetectionMetrics,
    HitRate,
    InceptionScore,
    MeanAveragePrecision,
    Metric,
    ObjectDetectionAvgPrecisionRecall,
    Perplexity,
    Rouge,
)

# Feature networks reject empty batches (as Ignite's do).
NO_EMPTY_BATCH = {"d_fid", "d_inception_score"}


class _Objects(list):  # type: ignore[type-arg]
    """A list that slices into lists (the dataset table slices every kind like a tensor)."""

    def __getitem__(self, index: Any) -> Any:
        item = super().__getitem__(index)
        return _Objects(item) if isinstance(index, slice) else item


def data(n: int) -> dict[str, tuple[Any, Any]]:
    g = torch.Generator().manual_seed(11)
    rng = random.Random(11)
    words = ["a", "b", "c", "d", "e"]
    candidates = _Objects([[rng.choice(words) for _ in range(rng.randint(4, 9))] for _ in range(n)])
    references = _Objects(
        [[[rng.choice(words) for _ in range(rng.randint(3, 9))] for _ in range(rng.randint(1, 3))] for _ in range(n)]
    )
    strings = (_Objects(" ".join(c) for c in candidates), _Objects(" ".join(r[0]) for r in references))
    images = torch.rand(n, 2, 12, 12, generator=g, dtype=torch.float64)
    return {
        "d_text": (candidates, references),
        "d_strings": strings,
        "d_tokens": (torch.randn(n, 6, 4, generator=g, dtype=torch.float64), torch.randint(0, 6, (n, 4), generator=g)),
        "d_ranking": (
            torch.randint(0, 4, (n, 7), generator=g).double(),
            torch.randint(0, 3, (n, 7), generator=g).double(),
        ),
        "d_images": (images, (images * 0.8 + 0.2 * torch.rand(n, 2, 12, 12, generator=g, dtype=torch.float64))),
        "d_features": (torch.rand(n, 3, generator=g, dtype=torch.float64), torch.rand(n, 3, generator=g).double() ** 2),
        "d_scores": ((torch.rand(n, 4, generator=g) * 4).round() / 4, torch.randint(0, 4, (n,), generator=g)),
        "d_boxes": _detections(n, g),
    }


def _detections(n: int, g: torch.Generator) -> tuple[_Objects, _Objects]:
    y_pred, y = _Objects(), _Objects()
    for _ in range(n):
        count = int(torch.randint(0, 4, (1,), generator=g))
        corner = torch.rand(count, 2, generator=g) * 100
        boxes = torch.cat([corner, corner + 5 + torch.rand(count, 2, generator=g) * 120], dim=1).round()
        labels = torch.randint(0, 2, (count,), generator=g)
        y.append({"bbox": boxes, "labels": labels})
        moved = (boxes + torch.randn(count, 4, generator=g) * 5).round()
        y_pred.append({"bbox": moved, "labels": labels, "scores": (torch.rand(count, generator=g) * 4).round() / 4})
    return y_pred, y


class _Common(Metric):
    """CommonObjectDetectionMetrics' figures as a tuple, in a fixed order."""

    def __init__(self) -> None:
        self.inner = CommonObjectDetectionMetrics(num_classes=2)
        super().__init__()

    def reset(self) -> None:
        self.inner.reset()

    def update(self, output: Any) -> None:
        if len(output[0]):
            self.inner.update(output)

    def compute(self) -> Any:
        return tuple(self.inner.compute().values())


class _Detection(_Common):
    def __init__(self) -> None:
        super().__init__()
        self.inner = ObjectDetectionAvgPrecisionRecall(num_classes=2)  # type: ignore[assignment]

    def compute(self) -> Any:
        return self.inner.compute()


def metrics() -> dict[str, tuple[str, Callable[[], Metric]]]:
    identity = torch.nn.Identity()
    return {
        "d_bleu_macro": ("d_text", lambda: Bleu(ngram=3, smooth="smooth1")),
        "d_bleu_micro": ("d_text", lambda: Bleu(ngram=4, average="micro")),
        "d_rouge": ("d_text", lambda: Rouge(variants=[1, 2, "L"], multiref="best", alpha=0.5)),
        "d_cer": ("d_strings", CharacterErrorRate),
        "d_perplexity": ("d_tokens", Perplexity),
        "d_hit_rate": ("d_ranking", lambda: HitRate(top_k=[1, 3])),
        "d_ndcg": ("d_ranking", lambda: NDCG(top_k=[2, 5], ignore_zero_hits=False)),
        "d_ssim": ("d_images", lambda: SSIM(data_range=1.0, kernel_size=5)),
        "d_psnr": ("d_images", lambda: PSNR(data_range=1.0)),
        "d_fid": ("d_features", lambda: FID(num_features=3, feature_extractor=identity)),
        "d_inception_score": (
            "d_features",
            lambda: _FirstOnly(InceptionScore(num_features=3, feature_extractor=identity)),
        ),
        "d_map": ("d_scores", lambda: MeanAveragePrecision(class_mean="weighted")),
        "d_detection": ("d_boxes", _Detection),
        "d_detection_common": ("d_boxes", _Common),
    }


class _FirstOnly(Metric):
    """Feeds only y_pred to a metric that takes one input."""

    def __init__(self, inner: Metric) -> None:
        self.inner = inner
        super().__init__()

    def reset(self) -> None:
        self.inner.reset()

    def update(self, output: Any) -> None:
        self.inner.update(output[0])

    def compute(self) -> Any:
        return self.inner.compute()
