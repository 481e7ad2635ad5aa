"""Where the demo writes: a local folder, or a URL (``s3://bucket/run``) that holds what a resume needs.

With a URL, checkpoints and the best model go there directly (cadence's fsspec stores), and the files the
demo writes locally (``metrics.csv``, ``curves.png``, TensorBoard's events) are written to a local working
folder and copied there: ``metrics.csv`` *before* each checkpoint is saved, so the copy always holds every row
up to the newest checkpoint's step (rows after it are dropped and replayed by the resumed run's logger).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from cadence.handlers._locations import is_url

__all__ = ["Output"]


class Output:
    """The demo's output: ``checkpoints`` and ``best`` (paths or URLs), ``local`` (the folder written to directly).

    Example:
        >>> output = Output("runs/digits")
        >>> output.checkpoints, output.local
        (PosixPath('runs/digits/checkpoints'), PosixPath('runs/digits'))
        >>> Output("memory://demo/run").checkpoints
        'memory://demo/run/checkpoints'
    """

    def __init__(self, location: str | Path) -> None:
        self.remote = is_url(location)
        if self.remote:
            self.url = str(location).rstrip("/")
            digest = hashlib.sha1(self.url.encode()).hexdigest()[:12]
            self.local = Path(tempfile.gettempdir()) / f"cadence-demo-{digest}"
        else:
            self.url = ""
            self.local = Path(location)

    @property
    def checkpoints(self) -> str | Path:
        """Where the checkpoints go."""
        return f"{self.url}/checkpoints" if self.remote else self.local / "checkpoints"

    @property
    def best(self) -> str | Path:
        """Where the best model goes."""
        return f"{self.url}/best" if self.remote else self.local / "best"

    def _fs(self) -> tuple[Any, str]:
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.url)
        return fs, str(root).rstrip("/")

    def clear(self) -> None:
        """Remove an earlier run's outputs (a fresh run must not resume, nor show in its logs, an old run's files)."""
        import shutil

        for name in ("checkpoints", "best", "tensorboard"):
            shutil.rmtree(self.local / name, ignore_errors=True)
        if self.remote:
            (self.local / "metrics.csv").unlink(missing_ok=True)
            fs, root = self._fs()
            for name in ("checkpoints", "best", "metrics.csv", "curves.png"):
                if fs.exists(f"{root}/{name}"):
                    fs.rm(f"{root}/{name}", recursive=True)

    def pull(self, name: str) -> None:
        """Copy ``name`` from the URL to the local folder (to continue a run); nothing when it is not there."""
        if not self.remote:
            return
        fs, root = self._fs()
        self.local.mkdir(parents=True, exist_ok=True)
        if fs.exists(f"{root}/{name}"):
            fs.get(f"{root}/{name}", str(self.local / name))
        else:
            (self.local / name).unlink(missing_ok=True)

    def push(self, name: str) -> None:
        """Copy the local ``name`` to the URL (an object is replaced whole: readers see the old or the new one)."""
        if not self.remote or not (self.local / name).is_file():
            return
        fs, root = self._fs()
        fs.pipe(f"{root}/{name}", (self.local / name).read_bytes())

    def __repr__(self) -> str:
        return self.url if self.remote else str(self.local)

    def describe(self, name: str) -> str:
        """Where ``name`` ends up, for messages."""
        return f"{self.url}/{name}" if self.remote else str(self.local / name)
