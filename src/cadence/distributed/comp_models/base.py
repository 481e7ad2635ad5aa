"""Ignite's ``ignite.distributed.comp_models.base`` import path."""

from __future__ import annotations

# Ignite's test package reads this flag to decide whether to probe Apple's MPS device; cadence needs
# PyTorch 2.3 or newer, so it always holds.
_torch_version_gt_112 = True
