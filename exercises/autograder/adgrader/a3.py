"""Hidden checks of assignment 3: a reverse-mode tape, and backpropagation by hand.

References: ``adcourse.grad`` of the same programs written with ``adcourse.numpy``.
"""

import types

import numpy as np

import adcourse
import adcourse.numpy as anp

from . import expressions
from .guard import ALL_TRANSFORMS, ENGINE_MODULES, Forbidden, as_sequence, assert_close, call_student, get, quiet, seed

FORBIDDEN = Forbidden(functions=ALL_TRANSFORMS, modules=ENGINE_MODULES + ("adcourse.core",))


def tape(namespace):
    """Every program at random points: the value and the adjoints of all inputs after one
    ``backward``, twice in a row (the second sweep must start from zero adjoints)."""
    task = "task 1"
    Var, backward = get(namespace, "Var", task), get(namespace, "backward", task)
    TAPE = get(namespace, "TAPE", task)
    ops = types.SimpleNamespace(**{name: get(namespace, name, task) for name in ("log", "sqrt", "exp", "sin")})
    rng = np.random.default_rng(seed(task))
    for name, (program, n) in expressions.SCALAR_PROGRAMS.items():
        for _ in range(3):
            x = expressions.point(rng, name)
            with quiet():
                value, gradient = adcourse.value_and_grad(lambda z: program([z[i] for i in range(n)], anp))(x)

            def run():
                if isinstance(TAPE, list):
                    TAPE.clear()
                inputs = [Var(float(x[i])) for i in range(n)]
                output = program(inputs, ops)
                backward(output)
                first = [v.grad for v in inputs]
                backward(output)
                return output.value, first, [v.grad for v in inputs]

            got_value, first, second = call_student(task, FORBIDDEN, run)
            assert_close(got_value, value, rtol=1e-10, atol=1e-12, what=f"{task}: value of `{name}` at {x}")
            assert_close(first, gradient, rtol=1e-9, atol=1e-11, what=f"{task}: adjoints of the inputs of `{name}` at {x}")
            assert_close(second, gradient, rtol=1e-9, atol=1e-11,
                         what=f"{task}: adjoints after a second backward (reset the grads first)")


def losses(x, y, xp=anp):
    """The network's loss as a function of the weights, and as a function of v1 (for a given
    w2), written with ``xp`` (adcourse.numpy here, jax.numpy in the test of the references)."""
    b = x.shape[0]

    def sigmoid(z):
        return 1.0 / (1.0 + xp.exp(-z))

    def loss_of_weights(w1, w2):
        return xp.sum((sigmoid(sigmoid(x @ w1) @ w2) - y) ** 2) / (2 * b)

    def loss_of_v1(w2):
        return lambda v1: xp.sum((sigmoid(v1 @ w2) - y) ** 2) / (2 * b)

    return loss_of_weights, loss_of_v1


def backprop(namespace):
    """(L, ∂L/∂w1, ∂L/∂w2, ∂L/∂v1) against adcourse.grad, for random shapes (b, d, n1, n2)."""
    task = "task 2"
    student = get(namespace, "two_layer_backprop", task)
    rng = np.random.default_rng(seed(task))
    for b, d, n1, n2 in ((1, 4, 3, 2), (7, 5, 6, 3), (16, 9, 12, 4)):
        x, y = rng.standard_normal((b, d)), rng.uniform(size=(b, n2))
        w1, w2 = rng.standard_normal((d, n1)), rng.standard_normal((n1, n2))
        loss_of_weights, loss_of_v1 = losses(x, y)
        with quiet():
            L, (dw1, dw2) = adcourse.value_and_grad(loss_of_weights, argnums=(0, 1))(w1, w2)
            v1 = 1.0 / (1.0 + np.exp(-(x @ w1)))
            dv1 = adcourse.grad(loss_of_v1(w2))(v1)
        answer = call_student(task, FORBIDDEN, student, x.copy(), w1.copy(), w2.copy(), y.copy())
        shapes = f"b={b}, d={d}, n1={n1}, n2={n2}"
        got = as_sequence(answer, 4, f"{task}: (L, dL_dw1, dL_dw2, dL_dv1) for {shapes}")
        for value, expected, name, rtol in zip(got, (L, dw1, dw2, dv1), ("L", "dL/dw1", "dL/dw2", "dL/dv1"),
                                               (1e-10, 1e-9, 1e-9, 1e-9)):
            assert_close(value, expected, rtol=rtol, atol=1e-12, what=f"{task}: {name} for {shapes}")
