"""Hidden checks of assignment 1: finite differences and zero-order estimates.

References: ``adcourse.finite_diff`` (the same schemes, written independently) and exact
gradients. Each check calls the student's function through ``call_student``, which fails
the task if it reaches ``adcourse``'s finite differences, its AD engine or JAX.
"""

import numpy as np

from adcourse.finite_diff import fd_gradient

from .guard import (ALL_TRANSFORMS, ENGINE_MODULES, Forbidden, as_float_array, assert_close,
                    assert_equal, call_student, fail, get, quiet, recorder, seed)

FORBIDDEN = Forbidden(functions=ALL_TRANSFORMS,
                      modules=("adcourse.finite_diff", "adcourse.zeroth_order") + ENGINE_MODULES)


def smooth_function(rng, d, xp=np):
    """A random smooth f: R^d -> R (written with the array module ``xp``: numpy here,
    jax.numpy in the test that checks these references) and its exact gradient."""
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    Q = A @ A.T + np.eye(d)
    a = rng.standard_normal(d)
    c = rng.uniform(0.5, 1.5, d)

    def f(w):
        value = 0.5 * w @ Q @ w + xp.sin(a @ w) + xp.sum(xp.exp(0.3 * c * w))
        return float(value) if xp is np else value

    def grad(w):
        return Q @ w + np.cos(a @ w) * a + 0.3 * c * np.exp(0.3 * c * w)

    return f, grad


def _difference_check(namespace, task, name, scheme, calls):
    estimate = get(namespace, name, task)
    rng = np.random.default_rng(seed(task))
    for d, eps in ((3, 1e-3), (7, 1e-2), (12, 1e-4)):
        f, _ = smooth_function(rng, d)
        w = rng.standard_normal(d)
        counted, evaluations = recorder(f)
        answer = call_student(task, FORBIDDEN, estimate, counted, w.copy(), eps)
        assert_equal(len(evaluations), calls(d), what=f"{task}: evaluations of f for d = {d}")
        with quiet():
            expected = fd_gradient(f, w, scheme, step=eps).value
        assert_close(answer, expected, rtol=1e-7, atol=1e-9,
                     what=f"{task}: the estimate for d = {d}, eps = {eps:g}")


def forward_difference(namespace):
    """g_i = (f(w+εe_i) − f(w))/ε with d+1 evaluations, against adcourse's forward scheme."""
    _difference_check(namespace, "task 1", "forward_difference_gradient", "forward", lambda d: d + 1)


def central_difference(namespace):
    """g_i = (f(w+εe_i) − f(w−εe_i))/(2ε) with 2d evaluations, against adcourse's central scheme."""
    _difference_check(namespace, "task 2", "central_difference_gradient", "central", lambda d: 2 * d)


def step_errors(namespace):
    """The error curves against ones built from adcourse's schemes and the exact gradient:
    tightly where truncation dominates, within a factor of 30 where rounding does."""
    task = "task 3"
    student = get(namespace, "step_errors", task)
    rng = np.random.default_rng(seed(task))
    f, grad = smooth_function(rng, 5)
    w = rng.standard_normal(5)
    steps = np.logspace(-1, -11, 11)
    answer = call_student(task, FORBIDDEN, student, f, grad, w.copy(), steps.copy())
    with quiet():
        exact = grad(w)
        expected = np.array([[np.linalg.norm(fd_gradient(f, w, s, step=h).value - exact)
                              for s in ("forward", "central")] for h in steps])
    answer = as_float_array(answer, f"{task}: the errors")
    if answer.shape != expected.shape:
        fail(f"{task}: the errors have shape {answer.shape}, expected {expected.shape}")
    truncation = steps >= 1e-4
    assert_close(answer[truncation], expected[truncation], rtol=1e-3, atol=0.0,
                 what=f"{task}: the errors for steps >= 1e-4")
    low, high = expected[~truncation] / 30, expected[~truncation] * 30 + 1e-14
    if not np.all((answer[~truncation] > low) & (answer[~truncation] < high)):
        fail(f"{task}: the errors for steps below 1e-4 are not those of the two schemes")


def two_point(namespace):
    """Two evaluations at w ± εv with ‖v‖ = 1, G = d(f₊ − f₋)/(2ε)·v exactly, v drawn from
    ``rng`` (reproducible, and different on the next call), and v uniform on the sphere
    (its mean and fourth moment)."""
    task = "task 4"
    estimate = get(namespace, "two_point_estimate", task)
    rng = np.random.default_rng(seed(task))
    d, eps = 6, 1e-3
    f, _ = smooth_function(rng, d)
    w = rng.standard_normal(d)
    counted, evaluations = recorder(f)
    G = call_student(task, FORBIDDEN, estimate, counted, w.copy(), eps, np.random.default_rng(7))
    assert_equal(len(evaluations), 2, what=f"{task}: evaluations of f")
    (plus,), (minus,) = evaluations
    v = (np.asarray(plus) - np.asarray(minus)) / (2 * eps)
    assert_close((np.asarray(plus) + np.asarray(minus)) / 2, w, rtol=0, atol=1e-12,
                 what=f"{task}: the two points should be w + eps v and w - eps v")
    assert_close(np.linalg.norm(v), 1.0, rtol=0, atol=1e-9, what=f"{task}: the norm of the direction v")
    assert_close(G, d * (f(plus) - f(minus)) / (2 * eps) * v, rtol=1e-9, atol=1e-12,
                 what=f"{task}: G for the direction your code drew")
    again = call_student(task, FORBIDDEN, estimate, f, w.copy(), eps, np.random.default_rng(7))
    assert_close(again, G, rtol=0, atol=0, what=f"{task}: the same generator state should give the same G")
    # Moments of v over many draws: E[v_i^2] = 1/d and E[v_i^4] = 3/(d(d+2)) on the sphere.
    directions, points = recorder(lambda x: float(np.sum(x)))
    draws, d = 3000, 4
    generator = np.random.default_rng(seed(task) + 1)
    call_student(task, FORBIDDEN, lambda: [estimate(directions, np.zeros(d), 0.5, generator) for _ in range(draws)])
    unit = np.array([call[0] for call in points[::2]]) / 0.5
    if len({tuple(np.round(u, 12)) for u in unit[:50]}) < 50:
        fail(f"{task}: the direction does not change from call to call: draw it with rng")
    mean, fourth = np.abs(unit.mean(axis=0)).max(), np.mean(unit ** 4)
    if mean > 0.04 or abs(fourth - 3 / (d * (d + 2))) > 0.012:
        fail(f"{task}: the directions are not uniform on the unit sphere "
             f"(largest |E v_i| = {mean:.3f}, expected 0; E v_i^4 = {fourth:.3f}, "
             f"expected {3 / (d * (d + 2)):.3f})")


def zeroth_order(namespace):
    """2·n_steps evaluations, every step w_{k+1} = w_k − lr·G_k rebuilt from the points where
    f was evaluated, a new random direction at each step, and the last point returned."""
    task = "task 5"
    descent = get(namespace, "zeroth_order_descent", task)
    rng = np.random.default_rng(seed(task))
    d, eps, lr, n_steps = 5, 1e-4, 0.05, 40
    f, _ = smooth_function(rng, d)
    w0 = rng.standard_normal(d)
    counted, evaluations = recorder(f)
    last = call_student(task, FORBIDDEN, descent, counted, w0.copy(), lr, n_steps, eps,
                        np.random.default_rng(3))
    assert_equal(len(evaluations), 2 * n_steps, what=f"{task}: evaluations of f")
    w = w0
    for k in range(n_steps):
        (plus,), (minus,) = evaluations[2 * k], evaluations[2 * k + 1]
        plus, minus = np.asarray(plus), np.asarray(minus)
        assert_close((plus + minus) / 2, w, rtol=1e-9, atol=1e-10,
                     what=f"{task}: step {k} should estimate the gradient at the current point")
        v = (plus - minus) / (2 * eps)
        w = w - lr * d * (f(plus) - f(minus)) / (2 * eps) * v
    assert_close(last, w, rtol=1e-9, atol=1e-10, what=f"{task}: the returned point")
    directions = {tuple(np.round(np.asarray(evaluations[2 * k][0]) - np.asarray(evaluations[2 * k + 1][0]), 9))
                  for k in range(n_steps)}
    if len(directions) < n_steps // 2:
        fail(f"{task}: the steps reuse {n_steps - len(directions)} directions: draw each one with rng")
