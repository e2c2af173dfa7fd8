"""Hidden checks of assignment 9, the mock exam: a finite-difference formula, a forward and a
backward sweep by hand on the graph of L = w1 w2 + exp(w1 w2) sin w2, and Hutchinson's
estimate with the variance of a Rademacher sample.

References: ``adcourse.jvp`` and ``adcourse.vjp`` of each node of the graph (the student may
not use ``adcourse`` here; the test suite checks them against JAX), the difference formulas
on the very points the student evaluated, and the variance in closed form.
"""

import numpy as np

import adcourse
import adcourse.numpy as anp

from .guard import (ALL_TRANSFORMS, ENGINE_MODULES, Forbidden, as_float_array, assert_close, call_student, fail,
                    get, quiet, recorder, seed)

FORBIDDEN = Forbidden(functions=ALL_TRANSFORMS, modules=ENGINE_MODULES + ("adcourse.finite_diff",
                                                                         "adcourse.trace_estimation"))


def nodes(w1, w2, xp=anp):
    """The graph's nodes as functions of (w1, w2), written with ``xp``: {name: value}."""
    v1 = w1 * w2
    v2 = xp.exp(v1)
    v3 = xp.sin(w2)
    v4 = v2 * v3
    return {"w1": w1, "w2": w2, "v1": v1, "v2": v2, "v3": v3, "v4": v4, "L": v1 + v4}


FORWARD_KEYS = ("v1", "v2", "v3", "v4", "L")
BACKWARD_KEYS = ("L", "v4", "v3", "v2", "v1", "w1", "w2")


def reference_tangents(w1, w2, dw1, dw2):
    """Each node's tangent along (dw1, dw2), by adcourse.jvp of the node as a function of w."""
    with quiet():
        return {key: float(adcourse.jvp(lambda a, b, key=key: nodes(a, b)[key], (w1, w2), (dw1, dw2))[1])
                for key in FORWARD_KEYS}


def reference_adjoints(w1, w2):
    """∂L/∂v for each node v: L written as a function of v with the rest of the graph fixed
    by its dependence on v (nodes downstream of v recomputed from it)."""
    v = nodes(w1, w2, np)
    downstream = {
        "L": lambda x: x,
        "v4": lambda x: v["v1"] + x,
        "v3": lambda x: v["v1"] + v["v2"] * x,
        "v2": lambda x: v["v1"] + x * v["v3"],
        "v1": lambda x: x + anp.exp(x) * v["v3"],
        "w1": lambda x: nodes(x, w2)["L"],
        "w2": lambda x: nodes(w1, x)["L"],
    }
    with quiet():
        return {key: float(adcourse.grad(fun)(float(v[key]))) for key, fun in downstream.items()}


def _table(answer, keys, task, what):
    """The student's dict of numbers for ``keys``."""
    __tracebackhide__ = True
    if not isinstance(answer, dict):
        fail(f"{task}: expected a dict of {what}, got {type(answer).__name__}")
    missing = [key for key in keys if key not in answer]
    if missing:
        fail(f"{task}: the dict of {what} has no entry for {', '.join(missing)}")
    values = {}
    for key in keys:
        array = as_float_array(answer[key], f"{task}: the {what[:-1]} of {key}")
        if array.size != 1:
            fail(f"{task}: the {what[:-1]} of {key} should be a number, got shape {array.shape}")
        values[key] = float(array.reshape(()))
    return values


def finite_differences(namespace):
    """Three evaluations at x, x + εe_k and x − εe_k, and the two estimates equal to the
    formulas on those values."""
    __tracebackhide__ = True
    task = "task 1"
    student = get(namespace, "fd_partials", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for n, eps in ((1, 1e-2), (3, 1e-3), (6, 1e-5), (4, 0.3)):
        a, c = rng.standard_normal(n), rng.uniform(0.5, 1.5, n)
        f = (lambda a, c: lambda x: float(np.sin(a @ np.asarray(x, dtype=float))
                                          + np.sum(c * np.asarray(x, dtype=float) ** 3)))(a, c)
        x, k = rng.standard_normal(n), int(rng.integers(n))
        counted, calls = recorder(f)
        cases.append((f, x, k, eps, counted, calls))
    answers = call_student(task, FORBIDDEN, lambda: [student(counted, x.copy(), k, eps)
                                                     for _, x, k, eps, counted, _ in cases])
    for (f, x, k, eps, _, calls), answer in zip(cases, answers):
        where = f"for n = {x.size}, k = {k}, eps = {eps:g}"
        try:
            forward, central = answer
        except (TypeError, ValueError):
            fail(f"{task}: expected (forward, central) {where}, got {answer!r:.200}")
        if len(calls) != 3:
            fail(f"{task}: f was evaluated {len(calls)} times {where}; the two estimates need exactly 3")
        e = np.zeros(x.size)
        e[k] = eps
        points = {"x": x, "x + eps e_k": x + e, "x - eps e_k": x - e}
        for name, point in points.items():
            if not any(np.shape(call[0]) == point.shape and np.allclose(call[0], point, rtol=0, atol=1e-14)
                       for call in calls):
                fail(f"{task}: f was never evaluated at {name} {where}")
        f0, plus, minus = f(x), f(x + e), f(x - e)
        assert_close(as_float_array(forward, f"{task}: forward"), (plus - f0) / eps, rtol=1e-9, atol=1e-9,
                     what=f"{task}: the one-sided difference {where}")
        assert_close(as_float_array(central, f"{task}: central"), (plus - minus) / (2 * eps), rtol=1e-9, atol=1e-9,
                     what=f"{task}: the central difference {where}")


def forward_sweep(namespace):
    """The tangent of every node against adcourse.jvp, at random points along random directions."""
    __tracebackhide__ = True
    task = "task 2"
    student = get(namespace, "forward_tangents", task)
    rng = np.random.default_rng(seed(task))
    cases = [tuple(float(v) for v in rng.uniform(-1.5, 1.5, 4)) for _ in range(5)] + [(0.3, -0.8, 1.0, 0.0)]
    answers = call_student(task, FORBIDDEN, lambda: [student(*case) for case in cases])
    for case, answer in zip(cases, answers):
        tangents = _table(answer, FORWARD_KEYS, task, "tangents")
        expected = reference_tangents(*case)
        for key in FORWARD_KEYS:
            assert_close(tangents[key], expected[key], rtol=1e-10, atol=1e-12,
                         what=f"{task}: the tangent of {key} at w = ({case[0]:.3f}, {case[1]:.3f}) "
                              f"along ({case[2]:.3f}, {case[3]:.3f})")


def backward_sweep(namespace):
    """The adjoint of every node against adcourse.grad, at random points."""
    __tracebackhide__ = True
    task = "task 3"
    student = get(namespace, "adjoints", task)
    rng = np.random.default_rng(seed(task))
    cases = [tuple(float(v) for v in rng.uniform(-1.5, 1.5, 2)) for _ in range(5)]
    answers = call_student(task, FORBIDDEN, lambda: [student(*case) for case in cases])
    for case, answer in zip(cases, answers):
        bar = _table(answer, BACKWARD_KEYS, task, "adjoints")
        expected = reference_adjoints(*case)
        for key in BACKWARD_KEYS:
            assert_close(bar[key], expected[key], rtol=1e-10, atol=1e-12,
                         what=f"{task}: the adjoint of {key} at w = ({case[0]:.3f}, {case[1]:.3f})")


def hutchinson(namespace):
    """The estimate equal to the mean over the given probes, one product per probe (of any
    kind: Rademacher, Gaussian, arbitrary), and the variance against its closed form."""
    __tracebackhide__ = True
    task = "task 4"
    estimate = get(namespace, "hutchinson_estimate", task)
    variance = get(namespace, "rademacher_variance", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for n, V, kind in ((5, 1, "rademacher"), (12, 30, "rademacher"), (8, 20, "gaussian"), (3, 4, "arbitrary")):
        B = rng.standard_normal((n, n))
        X = B + B.T if kind != "arbitrary" else B  # the estimate works for any square matrix
        probes = (rng.choice([-1.0, 1.0], size=(V, n)) if kind == "rademacher" else rng.standard_normal((V, n)))
        matvec, products = recorder(lambda u, X=X: X @ u)
        cases.append((X, probes, kind, matvec, products))
    matrices = [np.diag(rng.standard_normal(4))] + [(lambda B: B + B.T)(rng.standard_normal((n, n))) for n in (1, 2, 7)]
    estimates, variances = call_student(task, FORBIDDEN, lambda: (
        [estimate(matvec, probes.copy()) for _, probes, _, matvec, _ in cases],
        [variance(X.copy()) for X in matrices]))
    for (X, probes, kind, _, products), answer in zip(cases, estimates):
        V, n = probes.shape
        if len(products) != V:
            fail(f"{task}: {len(products)} products with X for {V} probes; one per probe")
        value = as_float_array(answer, f"{task}: the estimate")
        if value.size != 1:
            fail(f"{task}: hutchinson_estimate should return a number, got shape {value.shape}")
        assert_close(value.reshape(()), np.mean([p @ X @ p for p in probes]), rtol=1e-10, atol=1e-12,
                     what=f"{task}: the estimate from {V} {kind} probes in R^{n}")
    for X, answer in zip(matrices, variances):
        expected = 2 * (np.sum(X ** 2) - np.sum(np.diag(X) ** 2))
        value = as_float_array(answer, f"{task}: the variance")
        if value.size != 1:
            fail(f"{task}: rademacher_variance should return a number, got shape {value.shape}")
        assert_close(value.reshape(()), expected, rtol=1e-10, atol=1e-12,
                     what=f"{task}: the variance for a symmetric {X.shape[0]} x {X.shape[0]} matrix")
