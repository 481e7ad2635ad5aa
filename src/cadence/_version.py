"""The package version, importable without importing the rest of cadence."""

__version__ = "0.1.0"
