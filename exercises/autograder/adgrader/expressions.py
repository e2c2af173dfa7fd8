"""Scalar test programs written once for any number type.

Each program takes a list of inputs and an ``ops`` namespace with ``log``, ``sqrt``,
``exp`` and ``sin``. Given the student's dual numbers or tape variables and the student's
functions, it runs on them; given ``adcourse.numpy``, it runs under ``adcourse``'s
transforms, which give the reference derivatives. Together they exercise every operator
(both operand orders, constants, powers, division) and reuse a value several times, the
diamonds that a forward or reverse sweep must add up correctly.
"""

import numpy as np


def lecture(w, ops):
    """L(w1, w2) = w2 log w1 + sqrt(w2 log w1)."""
    v1 = ops.log(w[0])
    v2 = w[1] * v1
    return v2 + ops.sqrt(v2)


def mixed(w, ops):
    a, b, c = w
    return (a * b + ops.sin(c)) / (1.0 + b * b) - 2.0 * ops.exp(0.3 * a) + c ** 3


def reuse(w, ops):
    a, b = w
    t = a * b
    u = t * t + t / a - (3.0 - t)
    return ops.sqrt(u * u + 1.0) * t - 1.5 / (a + 2.0 * b * b + 1.0)


def deep(w, ops):
    a, b, c, d = w
    x = a
    for _ in range(6):
        x = ops.sin(x * b + c) + d * x
    return x * ops.exp(-0.5 * a * a) - ops.log(b * b + 1.0) ** 2


def powers(w, ops):
    a, b = w
    return a ** 2 * b - (a - b) ** 3 + 4.0 / b - ops.sqrt(a) ** 3


SCALAR_PROGRAMS = {
    "lecture": (lecture, 2),
    "mixed": (mixed, 3),
    "reuse": (reuse, 2),
    "deep": (deep, 4),
    "powers": (powers, 2),
}


def point(rng, name):
    """A random point where the program is smooth (log and sqrt of positive values)."""
    _, n = SCALAR_PROGRAMS[name]
    if name == "lecture":
        return np.array([rng.uniform(1.2, 6.0), rng.uniform(0.3, 4.0)])
    if name == "powers":
        return np.array([rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0)])
    if name == "reuse":
        return np.array([rng.uniform(0.5, 2.0), rng.uniform(-1.5, 1.5)])
    return rng.uniform(0.2, 1.5, n)


def vector_programs():
    """Functions R^n -> R^m as lists, for Jacobians: (f(xs, ops) -> list, n, m)."""
    def f1(x, ops):
        return [x[0] * x[1] + ops.sin(x[2]), ops.exp(x[0]) / (1.0 + x[1] * x[1])]

    def f2(x, ops):
        s = x[0] + 2.0 * x[1] - x[2] * x[3]
        return [s * s, ops.sqrt(x[0] * x[0] + 1.0) * x[3], ops.log(1.0 + x[1] ** 2) - s, 3.0 * x[2]]

    def f3(x, ops):
        return [x[0] * x[1] * x[2], x[1] / (2.0 + ops.sin(x[0])), ops.exp(-x[2] * x[0])]

    return [(f1, 3, 2), (f2, 4, 4), (f3, 3, 3)]
