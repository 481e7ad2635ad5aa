"""A missing optional package gives an error that names what to install (cadence is not on PyPI: no extras)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn


def tensorboard_logger(tmp_path: Path) -> None:
    from cadence.handlers import TensorboardLogger

    TensorboardLogger(log_dir=tmp_path)


def scheduler_plot(tmp_path: Path) -> None:
    from cadence.handlers import LinearCyclicalScheduler

    LinearCyclicalScheduler.plot_values(num_events=4, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=2)


def fid_compute(tmp_path: Path) -> None:
    from cadence.metrics import FID

    metric = FID(num_features=2, feature_extractor=nn.Identity())
    metric.update((torch.randn(4, 2), torch.randn(4, 2)))
    metric.compute()


def detection_metric(tmp_path: Path) -> None:
    from cadence.metrics.vision import ObjectDetectionAvgPrecisionRecall

    ObjectDetectionAvgPrecisionRecall(iou_thresholds=[0.5], rec_thresholds=[0.5])


def silhouette_with_sklearn_metric(tmp_path: Path) -> None:
    from cadence.metrics.clustering import SilhouetteScore

    metric = SilhouetteScore(silhouette_kwargs={"metric": "cosine"})
    metric.update((torch.randn(6, 2), torch.tensor([0, 0, 0, 1, 1, 1])))
    metric.compute()


def inception_features(tmp_path: Path) -> None:
    from cadence.metrics import FID

    FID()


def mlflow_logger(tmp_path: Path) -> None:
    from cadence.handlers import MLflowLogger

    MLflowLogger(tracking_uri=tmp_path.as_uri())


@pytest.mark.parametrize(
    ("hidden", "build", "install"),
    [
        (("tensorboardX", "torch.utils.tensorboard"), tensorboard_logger, "pip install tensorboard"),
        (("matplotlib", "matplotlib.pyplot"), scheduler_plot, "pip install matplotlib"),
        (("scipy", "scipy.linalg"), fid_compute, "pip install scipy"),
        (("numpy",), detection_metric, "pip install numpy"),
        (("sklearn", "sklearn.metrics"), silhouette_with_sklearn_metric, "pip install scikit-learn"),
        (("torchvision",), inception_features, "pip install torchvision"),
        (("mlflow",), mlflow_logger, "pip install mlflow"),
    ],
)
def test_a_missing_package_is_named_with_a_command_that_works(
    hidden: tuple[str, ...],
    build: Callable[[Path], None],
    install: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ModuleNotFoundError) as raised:
        build(tmp_path)
    message = str(raised.value)
    assert install in message
    assert "cadence[" not in message.replace("'.[", "")  # no extra of a package that is not on an index


def test_cadence_and_its_subpackages_import_without_numpy() -> None:
    script = textwrap.dedent(
        """
        import sys, warnings
        sys.modules["numpy"] = None
        warnings.simplefilter("ignore")  # torch warns that it runs without NumPy
        import cadence, cadence.metrics, cadence.handlers, cadence.contrib.metrics, cadence.contrib.handlers
        from cadence.metrics import CommonObjectDetectionMetrics
        try:
            CommonObjectDetectionMetrics()
        except ModuleNotFoundError as error:
            print(error)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "requires numpy to be installed (pip install numpy)" in done.stdout
