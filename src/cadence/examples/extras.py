"""The demo's optional packages (scikit-learn, matplotlib): imported when needed, with a working install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["DEMO_EXTRAS", "require"]

# import name -> the name pip installs it under
DEMO_EXTRAS = {"sklearn": "scikit-learn", "matplotlib": "matplotlib"}


def require(module: str) -> ModuleType:
    """Import ``module``, or raise ``ModuleNotFoundError`` saying how to install the demo's extras.

    cadence is installed from a clone (it is not on PyPI), so the hint names the packages themselves
    and the clone's ``.[demo]`` extra.

    Example:
        >>> require("matplotlib").__name__
        'matplotlib'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        top = module.split(".")[0]
        if error.name is not None and error.name.split(".")[0] != top:
            raise  # the package is there but one of its own dependencies is not: let that error speak
        packages = " ".join(DEMO_EXTRAS.values())
        raise ModuleNotFoundError(
            f"The cadence demo needs {DEMO_EXTRAS.get(top, top)!r}, which is not installed. Install the "
            f"demo's extras with `pip install {packages}` (or `pip install -e '.[demo]'` in a clone of cadence).",
            name=module,
        ) from None
