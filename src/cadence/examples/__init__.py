"""Runnable examples; ``make demo`` runs :mod:`cadence.examples.digits`."""
