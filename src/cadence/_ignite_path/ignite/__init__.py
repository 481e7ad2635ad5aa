"""The ``ignite`` package served by cadence (see :mod:`cadence.as_ignite`); it contains no Ignite code.

This folder is put first on ``sys.path`` by :func:`cadence.as_ignite.install`, so ``import ignite`` finds
this module and not an installed pytorch-ignite; every ``ignite.X`` module is then the module ``cadence.X``.
"""

from cadence.as_ignite import serve

serve(__name__)
