"""Argument checks shared by the numerical methods, so that they all say the same thing."""
import numpy as np


def check_count(name, value, minimum):
    """``value`` as an int, if it is an integer >= ``minimum`` (a count of steps, probes, points)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
