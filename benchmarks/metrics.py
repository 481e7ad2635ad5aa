"""Cost of cadence's metrics, side by side with Ignite's and torchmetrics' equivalents, in the same run.

Each row feeds the same batches to every library's metric: a timed run resets the metric, calls ``update``
a number of times (the cost per update is their mean), then calls ``compute`` once; the garbage collector
is paused while it is timed. The libraries take turns
within each repeat (the order rotates from one repeat to the next) and the median over the repeats is kept,
so the ratios hold on a noisy shared machine even when the absolute numbers drift. The last columns divide
cadence's time by the fastest of the others (below 1: cadence is faster).

Notes on the peers: torchmetrics is also shown with ``validate_args=False`` where it has it; torchmetrics has
no ``Loss`` (its equivalent is a ``MeanMetric`` of the batch loss weighted by the batch size); torchmetrics'
FID takes the generated and the real batch in two calls, which count as one update; torchmetrics' BLEU takes
strings (joined here; it splits them again). Ignite's ``ObjectDetectionAvgPrecisionRecall`` needs two box
functions of torchvision, which cannot be installed here: ``--detection-stand-in`` gives it plain-torch
equivalents (the same arithmetic), otherwise that row has no Ignite column. torchmetrics' detection mAP needs
torchvision too and is left out.

Run: ``.venv/bin/python benchmarks/metrics.py [--repeats R] [--threads T] [--only NAME] [--markdown]``
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cadence import metrics as cm

BATCH, CLASSES = 256, 10


@dataclass
class Contender:
    """One library's metric object, driven through these three calls."""

    reset: Callable[[], Any]
    update: Callable[[], Any]
    compute: Callable[[], Any]


@dataclass
class Row:
    """A metric measured on the same data in every library."""

    name: str
    data: str
    updates: int
    contenders: dict[str, Contender] = field(default_factory=dict)
    max_repeats: int | None = None
    """Fewer repeats for a row whose slowest library takes seconds."""


def _metric(metric: Any, *args: Any) -> Contender:
    """A cadence or Ignite metric, updated with ``(y_pred, y)``, or a torchmetrics one with ``*args``."""
    import torchmetrics

    if isinstance(metric, torchmetrics.Metric):
        return Contender(metric.reset, lambda: metric.update(*args), metric.compute)
    (output,) = args
    return Contender(metric.reset, lambda: metric.update(output), metric.compute)


def classification_rows(generator: torch.Generator) -> Iterator[Row]:
    import torchmetrics
    from ignite import metrics as im
    from torchmetrics import classification as tc

    y_pred = torch.randn(BATCH, CLASSES, generator=generator)
    y = torch.randint(0, CLASSES, (BATCH,), generator=generator)
    pair = (y_pred, y)
    data = f"batch {BATCH}, {CLASSES} classes"
    yield Row(
        "Accuracy",
        data,
        2000,
        {
            "cadence": _metric(cm.Accuracy(), pair),
            "ignite": _metric(im.Accuracy(), pair),
            "torchmetrics": _metric(tc.MulticlassAccuracy(num_classes=CLASSES, average="micro"), y_pred, y),
            "torchmetrics (no validation)": _metric(
                tc.MulticlassAccuracy(num_classes=CLASSES, average="micro", validate_args=False), y_pred, y
            ),
        },
    )
    mean_loss = torchmetrics.MeanMetric()
    yield Row(
        "Loss",
        data,
        2000,
        {
            "cadence": _metric(cm.Loss(F.cross_entropy), pair),
            "ignite": _metric(im.Loss(F.cross_entropy), pair),
            "torchmetrics": Contender(
                mean_loss.reset,
                lambda: mean_loss.update(F.cross_entropy(y_pred, y), weight=len(y)),
                mean_loss.compute,
            ),
        },
    )
    yield Row(
        "ConfusionMatrix",
        data,
        2000,
        {
            "cadence": _metric(cm.ConfusionMatrix(CLASSES), pair),
            "ignite": _metric(im.ConfusionMatrix(CLASSES), pair),
            "torchmetrics": _metric(tc.MulticlassConfusionMatrix(num_classes=CLASSES), y_pred, y),
            "torchmetrics (no validation)": _metric(
                tc.MulticlassConfusionMatrix(num_classes=CLASSES, validate_args=False), y_pred, y
            ),
        },
    )
    probabilities = y_pred.softmax(1)
    yield Row(
        "MeanAveragePrecision",
        f"batch {BATCH}, {CLASSES} classes, 100 updates",
        100,
        {
            "cadence": _metric(cm.MeanAveragePrecision(), (probabilities, y)),
            "ignite": _metric(im.MeanAveragePrecision(), (probabilities, y)),
            "torchmetrics": _metric(tc.MulticlassAveragePrecision(num_classes=CLASSES), probabilities, y),
            "torchmetrics (no validation)": _metric(
                tc.MulticlassAveragePrecision(num_classes=CLASSES, validate_args=False), probabilities, y
            ),
        },
    )


def ranking_rows(generator: torch.Generator) -> Iterator[Row]:
    """The EpochMetric-style metrics: 100 batches of 1,000 binary scores, then compute on all 100,000."""
    from ignite import metrics as im
    from torchmetrics import classification as tc

    y = torch.randint(0, 2, (1000,), generator=generator)
    scores = torch.rand(1000, generator=generator) + 0.3 * y
    scores = scores / scores.max()
    pair = (scores, y)
    kinds = {
        "ROC_AUC": (cm.ROC_AUC, im.ROC_AUC, tc.BinaryAUROC),
        "RocCurve": (cm.RocCurve, im.RocCurve, tc.BinaryROC),
        "PrecisionRecallCurve": (cm.PrecisionRecallCurve, im.PrecisionRecallCurve, tc.BinaryPrecisionRecallCurve),
        "AveragePrecision": (cm.AveragePrecision, im.AveragePrecision, tc.BinaryAveragePrecision),
    }
    for name, (ours, ignite_kind, theirs) in kinds.items():
        yield Row(
            name,
            "100 x 1,000 scores",
            100,
            {
                "cadence": _metric(ours(), pair),
                "ignite": _metric(ignite_kind(), pair),
                "torchmetrics": _metric(theirs(), scores, y),
                "torchmetrics (no validation)": _metric(theirs(validate_args=False), scores, y),
            },
        )


def ssim_row(generator: torch.Generator) -> Row:
    from ignite import metrics as im
    from torchmetrics.image import StructuralSimilarityIndexMeasure

    y_pred = torch.rand(16, 3, 64, 64, generator=generator)
    y = (y_pred + 0.1 * torch.rand(16, 3, 64, 64, generator=generator)).clamp(0, 1)
    return Row(
        "SSIM",
        "16x3x64x64 images",
        5,
        {
            "cadence": _metric(cm.SSIM(data_range=1.0), (y_pred, y)),
            "ignite": _metric(im.SSIM(data_range=1.0), (y_pred, y)),
            "torchmetrics": _metric(StructuralSimilarityIndexMeasure(data_range=1.0), y_pred, y),
        },
    )


def bleu_rows(generator: torch.Generator) -> Iterator[Row]:
    """64 candidate sentences of 30 words (from 20 words) with 2 references each."""
    from ignite import metrics as im
    from torchmetrics.text import BLEUScore

    def sentence() -> list[str]:
        return [f"w{int(i)}" for i in torch.randint(0, 20, (30,), generator=generator)]

    candidates = [sentence() for _ in range(64)]
    references = [[sentence(), sentence()] for _ in range(64)]
    texts = [" ".join(words) for words in candidates]
    reference_texts = [[" ".join(words) for words in group] for group in references]
    pair = (candidates, references)
    data = "64 sentences of 30 words, 2 references"
    yield Row(
        "Bleu (macro)",
        data,
        20,
        {"cadence": _metric(cm.Bleu(ngram=4), pair), "ignite": _metric(im.Bleu(ngram=4), pair)},
    )
    yield Row(
        "Bleu (micro)",
        data,
        20,
        {
            "cadence": _metric(cm.Bleu(ngram=4, average="micro"), pair),
            "ignite": _metric(im.Bleu(ngram=4, average="micro"), pair),
            "torchmetrics": _metric(BLEUScore(n_gram=4), texts, reference_texts),
        },
    )


def fid_row(generator: torch.Generator, features: int, updates: int, max_repeats: int | None = None) -> Row:
    """A linear feature network, ``updates`` different batches of 256 generated and 256 real samples (so that
    the covariances have full rank once there are more samples than features, as in real use)."""
    from ignite import metrics as im
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Features(nn.Linear):
        num_features = features  # torchmetrics reads the feature size here

    torch.manual_seed(0)
    network = Features(features, features)
    batches = [
        (torch.randn(BATCH, features, generator=generator), torch.randn(BATCH, features, generator=generator) * 1.1)
        for _ in range(updates)
    ]

    def cycling(metric: Any) -> Contender:
        following = itertools.cycle(batches)
        return Contender(metric.reset, lambda: metric.update(next(following)), metric.compute)

    theirs = FrechetInceptionDistance(feature=network)
    following = itertools.cycle(batches)

    def update_theirs() -> None:
        fake, real = next(following)
        theirs.update(fake, real=False)
        theirs.update(real, real=True)

    return Row(
        f"FID ({features} features)",
        f"nn.Linear({features}, {features}) features, {updates} x 2x{BATCH} samples",
        updates,
        {
            "cadence": cycling(cm.FID(num_features=features, feature_extractor=network)),
            "ignite": cycling(im.FID(num_features=features, feature_extractor=network)),
            "torchmetrics": Contender(theirs.reset, update_theirs, theirs.compute),
        },
        max_repeats,
    )


def _stand_in_torchvision_boxes() -> None:
    """Plain-torch equivalents of the two torchvision box functions Ignite's detection metric imports."""

    def box_area(boxes: torch.Tensor) -> torch.Tensor:
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    def box_inter_union(first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        corner_low = torch.max(first[:, None, :2], second[None, :, :2])
        corner_high = torch.min(first[:, None, 2:], second[None, :, 2:])
        sides = (corner_high - corner_low).clamp(min=0)
        inter = sides[..., 0] * sides[..., 1]
        return inter, box_area(first)[:, None] + box_area(second)[None, :] - inter

    package, ops, boxes = (
        types.ModuleType(name) for name in ("torchvision", "torchvision.ops", "torchvision.ops.boxes")
    )
    boxes.box_area, boxes._box_inter_union = box_area, box_inter_union  # type: ignore[attr-defined]
    package.ops, ops.boxes = ops, boxes  # type: ignore[attr-defined]
    sys.modules.update({"torchvision": package, "torchvision.ops": ops, "torchvision.ops.boxes": boxes})


def detection_row(generator: torch.Generator, stand_in: bool) -> Row:
    """COCO-style mAP: 8 images per update, 30 detections and 10 objects per image, 5 classes."""
    from ignite import metrics as im

    def boxes(count: int) -> torch.Tensor:
        corner = torch.rand(count, 2, generator=generator) * 80
        return torch.cat([corner, corner + 5 + torch.rand(count, 2, generator=generator) * 40], 1)

    def image() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        truth = boxes(10)
        labels = torch.randint(0, 5, (10,), generator=generator)
        found = torch.cat([truth[:8] + torch.randn(8, 4, generator=generator) * 3, boxes(22)])
        found_labels = torch.cat([labels[:8], torch.randint(0, 5, (22,), generator=generator)])
        prediction = {"bbox": found, "scores": torch.rand(30, generator=generator), "labels": found_labels}
        return prediction, {"bbox": truth, "labels": labels, "iscrowd": torch.zeros(10, dtype=torch.long)}

    images = [image() for _ in range(8)]
    batch = ([p for p, _ in images], [t for _, t in images])
    row = Row(
        "ObjectDetectionAvgPrecisionRecall",
        "8 images x 30 detections, 10 objects, 5 classes, 25 updates",
        25,
        {"cadence": _metric(cm.ObjectDetectionAvgPrecisionRecall(num_classes=5), batch)},
    )
    if stand_in:
        _stand_in_torchvision_boxes()
        row.contenders["ignite*"] = _metric(im.ObjectDetectionAvgPrecisionRecall(num_classes=5), batch)
    return row


def rows(stand_in: bool) -> list[Row]:
    generator = torch.Generator().manual_seed(0)
    return [
        *classification_rows(generator),
        *ranking_rows(generator),
        ssim_row(generator),
        *bleu_rows(generator),
        fid_row(generator, 64, 20),
        fid_row(generator, 256, 8, max_repeats=5),  # SciPy's sqrtm (Ignite) can take seconds here
        detection_row(generator, stand_in),
    ]


@dataclass
class Timing:
    """Medians over the repeats, in seconds."""

    update: float
    compute: float


def _run(contender: Contender, updates: int) -> tuple[float, float]:
    """Seconds per update and for the compute, with the garbage collector paused (as ``timeit`` does): a
    collection triggered by one library's allocations would otherwise be charged to whichever runs then."""
    contender.reset()
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(updates):
            contender.update()
        updated = time.perf_counter()
        contender.compute()
        return (updated - started) / updates, time.perf_counter() - updated
    finally:
        gc.enable()


def measure(row: Row, repeats: int) -> dict[str, Timing]:
    """Interleaved runs of every library: one warm-up, then ``repeats`` timed runs each (rotating order)."""
    libraries = list(row.contenders)
    for contender in row.contenders.values():
        _run(contender, max(row.updates // 10, 1))
    samples: dict[str, list[tuple[float, float]]] = {library: [] for library in libraries}
    for repeat in range(min(repeats, row.max_repeats or repeats)):
        shift = repeat % len(libraries)
        for library in libraries[shift:] + libraries[:shift]:
            samples[library].append(_run(row.contenders[library], row.updates))
    return {
        library: Timing(statistics.median(u for u, _ in runs), statistics.median(c for _, c in runs))
        for library, runs in samples.items()
    }


def _duration(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def _ratio(timings: dict[str, Timing], kind: str) -> str:
    ours = getattr(timings["cadence"], kind)
    others = {library: getattr(t, kind) for library, t in timings.items() if library != "cadence"}
    if not others:
        return "-"
    fastest = min(others, key=lambda library: others[library])
    return f"{ours / others[fastest]:.2f} ({fastest})"


def report(results: dict[str, tuple[Row, dict[str, Timing]]], markdown: bool) -> None:
    if markdown:
        libraries = ["cadence", "ignite", "torchmetrics"]
        print("| metric | data | " + " | ".join(f"{lib} update" for lib in libraries) + " | ratio update | ", end="")
        print(" | ".join(f"{lib} compute" for lib in libraries) + " | ratio compute |")
        print("|---" * 10 + "|")
        for name, (row, timings) in results.items():
            cells = [name, row.data]
            for kind in ("update", "compute"):
                for library in libraries:
                    timing = timings.get(library) or timings.get(library + "*")
                    cells.append(_duration(getattr(timing, kind)) if timing else "n/a")
                cells.append(_ratio(timings, kind))
            print("| " + " | ".join(cells) + " |")
        return
    for name, (row, timings) in results.items():
        print(f"\n{name} ({row.data}; {row.updates} updates, then compute)")
        print(f"  {'library':<30} {'update':>12} {'compute':>12}")
        for library, timing in timings.items():
            print(f"  {library:<30} {_duration(timing.update):>12} {_duration(timing.compute):>12}")
        ratios = f"update {_ratio(timings, 'update')}, compute {_ratio(timings, 'compute')}"
        print(f"  {'cadence / fastest other':<30} {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per library; the median is kept")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--only", default="", help="only the rows whose name contains this (case-insensitive)")
    parser.add_argument("--markdown", action="store_true", help="print one markdown table (for the README)")
    parser.add_argument(
        "--detection-stand-in",
        action="store_true",
        help="run Ignite's detection mAP with plain-torch stand-ins for torchvision's two box functions",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU, torch threads {torch.get_num_threads()}; medians; ratio = cadence / fastest other (< 1: faster)")
    results = {}
    for row in rows(args.detection_stand_in):
        if args.only.lower() in row.name.lower():
            results[row.name] = (row, measure(row, args.repeats))
            if not args.markdown:
                report({row.name: results[row.name]}, markdown=False)
    if args.markdown:
        report(results, markdown=True)


if __name__ == "__main__":
    main()
