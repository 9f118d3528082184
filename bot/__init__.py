"""Lotsen: tells school staff in Sörmland where to turn when they worry about a pupil."""

__version__ = "0.6.0"
