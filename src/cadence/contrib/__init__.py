"""Ignite's ``ignite.contrib`` paths: the handlers and engine helpers that Ignite kept under ``contrib``.

The code lives in :mod:`cadence.handlers` and :mod:`cadence.loggers`; these modules re-export it.

Example:
    >>> from cadence.contrib.engines import common
    >>> from cadence.handlers.common import setup_common_training_handlers
    >>> common.setup_common_training_handlers is setup_common_training_handlers
    True
"""
