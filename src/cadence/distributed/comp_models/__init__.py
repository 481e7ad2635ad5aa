"""Ignite's ``ignite.distributed.comp_models`` import path.

cadence has one computation model, ``torch.distributed`` itself; see :mod:`cadence.distributed`.
"""
