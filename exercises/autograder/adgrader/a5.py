"""Hidden checks of assignment 5: gradient checkpointing on a chain of layers.

The student's functions get instrumented, read-only layers: they count ``forward`` calls
and, at every ``backward`` call, how many of the activations that ``forward`` produced are
still alive (watched through weak references, so the count is what the student's code really
keeps, not what it says it keeps). Reference gradient: ``adcourse.grad`` of the chain written with
``adcourse.numpy``.
"""

import math
import weakref

import numpy as np

import adcourse
import adcourse.numpy as anp

from .guard import (ALL_TRANSFORMS, ENGINE_MODULES, Forbidden, assert_close, assert_equal, call_student, fail,
                    get, quiet, seed)

FORBIDDEN = Forbidden(functions=ALL_TRANSFORMS,
                      modules=("adcourse.checkpoint", "adcourse.core") + ENGINE_MODULES)


class _Meter:
    """Forward calls, and the peak number of live activations seen by backward calls."""

    def __init__(self):
        self.forward_calls = 0
        self.alive = []
        self.peak = 0

    def produced(self, array):
        self.forward_calls += 1
        self.alive.append(weakref.ref(array))

    def look(self):
        self.alive = [ref for ref in self.alive if ref() is not None]
        self.peak = max(self.peak, len(self.alive))


class _ReadOnly(type):
    """Classes whose methods cannot be swapped: a layer that stopped reporting to the meter
    would make any memory count look fine."""

    def __setattr__(cls, name, value):
        raise TypeError("the layers are read-only")


def _layer(W, b, meter):
    """tanh(x W + b), as the notebook's Layer, reporting to ``meter`` (held in a closure,
    out of the student's reach)."""

    class Layer(metaclass=_ReadOnly):
        __slots__ = ()

        def forward(self, x):
            y = np.tanh(x @ W + b)
            meter.produced(y)
            return y

        def backward(self, x, grad_y):
            meter.look()
            y = np.tanh(x @ W + b)
            return (grad_y * (1.0 - y ** 2)) @ W.T

    return Layer()


def chain(rng, n, width, xp=anp):
    """(loss of x0 written with ``xp``, a maker of fresh metered layers) for a random chain."""
    weights = [(rng.standard_normal((width, width)) / math.sqrt(width), 0.1 * rng.standard_normal(width))
               for _ in range(n)]

    def loss(x):
        for W, b in weights:
            x = xp.tanh(x @ W + b)
        return 0.5 * xp.sum(x ** 2)

    def layers():
        meter = _Meter()
        return [_layer(W, b, meter) for W, b in weights], meter

    return loss, layers


def reference_cost(n, k):
    """(peak activations stored, x_0 included; forward calls) of the segment scheme: the first
    sweep keeps the checkpoints and the whole last segment, every other segment is recomputed
    from its checkpoint on the way back (k − 1 calls each)."""
    segments = -(-n // k)
    peak = max((j + 1) + (min(j * k + k, n) - j * k - 1) for j in range(segments))
    return peak, n + (segments - 1) * (k - 1)


def held_budget(n, k):
    """Outputs of ``forward`` a correct answer may hold at a call of ``backward``: its checkpoints
    x_k, x_2k, … (kept to the end if it likes), the k − 1 activations of one segment, and x_n
    (the notebook says so in task 2)."""
    return -(-n // k) + k - 1


def store_all(namespace):
    """The gradient against adcourse.grad, with exactly n forward calls."""
    task = "task 1"
    student = get(namespace, "grad_store_all", task)
    rng = np.random.default_rng(seed(task))
    for n, width, batch in ((1, 3, 2), (7, 5, 3), (20, 6, 4)):
        loss, layers = chain(rng, n, width)
        x0 = rng.standard_normal((batch, width))
        with quiet():
            expected = adcourse.grad(loss)(x0)
        metered, meter = layers()
        answer = call_student(task, FORBIDDEN, student, metered, x0.copy())
        assert_close(answer, expected, rtol=1e-10, atol=1e-12, what=f"{task}: dL/dx0 for {n} layers")
        assert_equal(meter.forward_calls, n, what=f"{task}: calls of forward for {n} layers")


def checkpointed(namespace):
    """For several (n, k), k dividing n or not: the gradient equal to the reference,
    n + (⌈n/k⌉ − 1)(k − 1) forward calls, and never more outputs of ``forward`` alive at a
    backward call than ``held_budget``."""
    task = "task 2"
    student = get(namespace, "grad_checkpointed", task)
    rng = np.random.default_rng(seed(task))
    for n, k in ((1, 1), (9, 3), (16, 4), (17, 4), (25, 5), (30, 7), (12, 12)):
        loss, layers = chain(rng, n, 4)
        x0 = rng.standard_normal((3, 4))
        with quiet():
            expected = adcourse.grad(loss)(x0)
        metered, meter = layers()
        answer = call_student(task, FORBIDDEN, student, metered, x0.copy(), k)
        assert_close(answer, expected, rtol=1e-10, atol=1e-12, what=f"{task}: dL/dx0 for n = {n}, k = {k}")
        assert_equal(meter.forward_calls, reference_cost(n, k)[1], what=f"{task}: calls of forward for n = {n}, k = {k}")
        if meter.peak > held_budget(n, k):
            fail(f"{task}: for n = {n}, k = {k} your code held {meter.peak} outputs of forward at once "
                 f"during the backward sweep; expected at most {held_budget(n, k)} "
                 f"({-(-n // k) - 1} checkpoints, {k - 1} activations of a segment and x_n)")


def counting(namespace):
    """checkpoint_cost against the scheme's own count for every k of several n, and
    best_segment_length against a search over k."""
    task = "task 3"
    cost = get(namespace, "checkpoint_cost", task)
    best = get(namespace, "best_segment_length", task)
    pairs = [(n, k) for n in (1, 2, 7, 16, 30, 31, 100) for k in range(1, n + 1)]
    answers = call_student(task, FORBIDDEN, lambda: [cost(n, k) for n, k in pairs])
    for (n, k), answer in zip(pairs, answers):
        assert_equal(answer, reference_cost(n, k), what=f"{task}: checkpoint_cost({n}, {k})")
    depths = (1, 5, 16, 50, 99, 400)
    answers = call_student(task, FORBIDDEN, lambda: [best(n) for n in depths])
    for n, answer in zip(depths, answers):
        expected = min(range(1, n + 1), key=lambda k: (reference_cost(n, k)[0], k))
        assert_equal(answer, expected, what=f"{task}: best_segment_length({n})")
