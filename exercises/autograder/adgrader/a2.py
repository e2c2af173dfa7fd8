"""Hidden checks of assignment 2: forward mode with dual numbers.

The test programs (``expressions.py``) run once on the student's ``Dual`` numbers and once
under ``adcourse.jvp`` / ``adcourse.jacfwd``, which give the reference tangents.
"""

import types

import numpy as np

import adcourse
import adcourse.numpy as anp

from . import expressions
from .guard import (ALL_TRANSFORMS, ENGINE_MODULES, Forbidden, as_float_array, assert_close,
                    assert_equal, call_student, fail, get, quiet, recorder, seed)

FORBIDDEN = Forbidden(functions=ALL_TRANSFORMS, modules=ENGINE_MODULES + ("adcourse.core",))
_OPS = ("log", "sqrt", "exp", "sin")


def _student_ops(namespace, task):
    return types.SimpleNamespace(**{name: get(namespace, name, task) for name in _OPS})


def _reference(program, n):
    return lambda x: program([x[i] for i in range(n)], anp)


def _parts(result, what):
    """(value, tangent) of a student's dual number."""
    try:
        return float(result.value), float(result.tangent)
    except Exception as error:  # noqa: BLE001
        fail(f"{what}: expected a Dual with float .value and .tangent, got {type(result).__name__} "
             f"({type(error).__name__}: {error})")


def dual_numbers(namespace):
    """Every program, at random points and along random directions: value and tangent."""
    task = "task 1"
    Dual = get(namespace, "Dual", task)
    ops = _student_ops(namespace, task)
    rng = np.random.default_rng(seed(task))
    for name, (program, n) in expressions.SCALAR_PROGRAMS.items():
        for _ in range(3):
            x, t = expressions.point(rng, name), rng.standard_normal(n)
            with quiet():
                value, tangent = adcourse.jvp(_reference(program, n), (x,), (t,))
            result = call_student(task, FORBIDDEN,
                                  lambda: program([Dual(float(x[i]), float(t[i])) for i in range(n)], ops))
            got_value, got_tangent = _parts(result, f"{task}: program `{name}`")
            assert_close(got_value, value, rtol=1e-10, atol=1e-12, what=f"{task}: value of `{name}` at {x}")
            assert_close(got_tangent, tangent, rtol=1e-9, atol=1e-11,
                         what=f"{task}: tangent of `{name}` at {x} along {np.round(t, 3)}")


def lecture_gradient(namespace):
    """(L, ∂L/∂w1, ∂L/∂w2) of the lecture's function against adcourse.value_and_grad."""
    task = "task 2"
    student = get(namespace, "lecture_gradient", task)
    rng = np.random.default_rng(seed(task))
    L = lambda w1, w2: expressions.lecture([w1, w2], anp)  # noqa: E731
    for _ in range(5):
        w1, w2 = float(rng.uniform(1.2, 6.0)), float(rng.uniform(0.3, 4.0))
        with quiet():
            value, (d1, d2) = adcourse.value_and_grad(L, argnums=(0, 1))(w1, w2)
        answer = call_student(task, FORBIDDEN, student, w1, w2)
        answer = as_float_array(answer, f"{task}: the result")
        assert_close(answer, [value, d1, d2], rtol=1e-10, atol=1e-12,
                     what=f"{task}: (L, dL/dw1, dL/dw2) at w = ({w1:.4f}, {w2:.4f})")


def jacobian(namespace):
    """The forward-mode Jacobian: against adcourse.jacfwd, with exactly one evaluation of
    f per input (one column per forward sweep)."""
    task = "task 3"
    student = get(namespace, "jacobian_forward", task)
    ops = _student_ops(namespace, task)
    rng = np.random.default_rng(seed(task))
    for program, n, m in expressions.vector_programs():
        x = rng.uniform(0.3, 1.5, n)
        with quiet():
            expected = adcourse.jacfwd(lambda z: anp.stack(program([z[i] for i in range(n)], anp)))(x)
        f, evaluations = recorder(lambda xs: program(list(xs), ops))
        answer = call_student(task, FORBIDDEN, student, f, x.copy())
        assert_close(answer, expected, rtol=1e-9, atol=1e-11, what=f"{task}: the {m}x{n} Jacobian at {x}")
        assert_equal(len(evaluations), n, what=f"{task}: evaluations of f (one forward sweep per input)")
