"""Hidden checks of assignment 4: Hessian-vector products and Hutchinson's estimator.

References: the test functions' Hessians in closed form, independent of ``adcourse`` (the
student's code may use ``adcourse`` here, so it must not be the judge as well); the test
suite checks these formulas against ``jax.hessian``. The student may use
``adcourse.grad``/``jvp``/``vjp``; ``adcourse.hvp``, the Hessian-forming transforms and
``adcourse.trace_estimation`` are forbidden, and the number of times ``f`` is traced shows
whether a Hessian was built column by column.
"""

import numpy as np

import adcourse.numpy as anp

from .guard import (Forbidden, as_float_array, assert_close, assert_equal, call_student, fail, get, recorder,
                    seed)

FORBIDDEN = Forbidden(functions=("adcourse.hvp", "adcourse.hessian", "adcourse.jacfwd", "adcourse.jacrev"),
                      modules=("adcourse.trace_estimation", "adcourse.spectrum"))


def functions(rng, n, xp=anp):
    """Scalar test functions of x in R^n written with ``xp`` (adcourse.numpy here,
    jax.numpy in the test of these references): {name: (f, its Hessian in closed form)}."""
    A = rng.standard_normal((n, n)) / np.sqrt(n)
    c = rng.standard_normal(n)

    def tanh_chain(x):
        return xp.sum(xp.tanh(x[:-1] * x[1:])) + 0.5 * xp.sum(x ** 2)

    def tanh_chain_hessian(x):
        u = x[:-1] * x[1:]
        t = np.tanh(u)
        s = 1 - t ** 2              # tanh'(u)
        s2 = -2 * t * s             # tanh''(u)
        H = np.eye(n)
        i = np.arange(n - 1)
        H[i, i] += s2 * x[1:] ** 2
        H[i + 1, i + 1] += s2 * x[:-1] ** 2
        H[i, i + 1] += s2 * u + s
        H[i + 1, i] += s2 * u + s
        return H

    def log_sum_exp(x):
        return xp.log(xp.sum(xp.exp(A @ x))) + xp.sum(c * x) ** 2

    def log_sum_exp_hessian(x):
        p = np.exp(A @ x - np.max(A @ x))
        p /= p.sum()
        return A.T @ (np.diag(p) - np.outer(p, p)) @ A + 2 * np.outer(c, c)

    def quartic(x):
        return xp.sum(xp.sin(A @ x) ** 2) + xp.sum(x ** 4) / 4

    def quartic_hessian(x):
        return A.T @ np.diag(2 * np.cos(2 * (A @ x))) @ A + np.diag(3 * x ** 2)

    return {"tanh-chain": (tanh_chain, tanh_chain_hessian),
            "log-sum-exp": (log_sum_exp, log_sum_exp_hessian),
            "quartic": (quartic, quartic_hessian)}


def separable(rng, n, xp=anp):
    """f with a diagonal Hessian (each Rademacher probe gives its exact trace), and its trace."""
    c = rng.uniform(0.5, 2.0, n)
    return (lambda x: xp.sum(c * xp.sin(x)) + xp.sum(x ** 4) / 12,
            lambda x: float(np.sum(-c * np.sin(x) + x ** 2)))


def hvp(namespace):
    """∇²f(x)·v against the closed-form Hessian times v, for n up to 40; f traced at most
    4 times per product (a Hessian built from n gradients would trace it n times)."""
    task = "task 1"
    student = get(namespace, "hvp", task)
    rng = np.random.default_rng(seed(task))
    for n in (3, 12, 40):
        for name, (f, hessian) in functions(rng, n).items():
            x, v = rng.standard_normal(n) * 0.5, rng.standard_normal(n)
            expected = hessian(x) @ v
            counted, evaluations = recorder(f)
            answer = call_student(task, FORBIDDEN, student, counted, x.copy(), v.copy())
            assert_close(answer, expected, rtol=1e-9, atol=1e-10, what=f"{task}: H v for `{name}` in R^{n}")
            if len(evaluations) > 4:
                fail(f"{task}: f was evaluated {len(evaluations)} times for one product in R^{n}: "
                     "the Hessian must not be formed")


def hutchinson(namespace):
    """One product per probe, probes of ±1 drawn from ``rng`` (reproducible, different each
    time), and the result equal to the mean of u_iᵀ X u_i over the probes actually used."""
    task = "task 2"
    student = get(namespace, "hutchinson_trace", task)
    rng = np.random.default_rng(seed(task))
    n, m = 25, 40
    B = rng.standard_normal((n, n))
    X = B + B.T
    matvec, products = recorder(lambda u: X @ u)
    answer = call_student(task, FORBIDDEN, student, matvec, n, m, np.random.default_rng(11))
    assert_equal(len(products), m, what=f"{task}: products with X for {m} samples")
    probes = np.array([call[0] for call in products], dtype=float)
    if probes.shape != (m, n) or not np.all(np.abs(probes) == 1.0):
        fail(f"{task}: the probes should be vectors of length {n} with entries +1 or -1")
    if len({tuple(p) for p in probes}) < m - 1:
        fail(f"{task}: the probes repeat: draw a new one for every sample")
    expected = np.mean([p @ X @ p for p in probes])
    assert_close(as_float_array(answer, f"{task}: the estimate"), expected, rtol=1e-10, atol=1e-10,
                 what=f"{task}: the mean of u^T X u over your probes")
    again = call_student(task, FORBIDDEN, student, lambda u: X @ u, n, m, np.random.default_rng(11))
    assert_close(again, answer, rtol=0, atol=0, what=f"{task}: the same generator state should give the same estimate")
    # Over many probes the entries are balanced: P(+1) = 1/2.
    many, seen = recorder(lambda u: u)
    call_student(task, FORBIDDEN, student, many, 50, 100, np.random.default_rng(12))
    share = np.mean(np.array([call[0] for call in seen]) > 0)
    if abs(share - 0.5) > 0.03:
        fail(f"{task}: a share {share:.3f} of the entries are +1; Rademacher entries are +1 half the time")


def hessian_trace(namespace):
    """Exact for a diagonal Hessian (every Rademacher probe is), within 4 standard
    deviations of the exact trace otherwise, and f traced a bounded number of times a probe."""
    task = "task 3"
    student = get(namespace, "hessian_trace", task)
    rng = np.random.default_rng(seed(task))
    f, exact_trace = separable(rng, 15)
    x = rng.standard_normal(15)
    counted, evaluations = recorder(f)
    answer = call_student(task, FORBIDDEN, student, counted, x.copy(), 6, np.random.default_rng(5))
    assert_close(as_float_array(answer, f"{task}: the estimate"), exact_trace(x), rtol=1e-9, atol=1e-9,
                 what=f"{task}: trace of a diagonal Hessian")
    if len(evaluations) > 4 * 6:
        fail(f"{task}: f was evaluated {len(evaluations)} times for 6 probes: use Hessian-vector products")
    f, hessian = functions(rng, 20)["tanh-chain"]
    x = rng.standard_normal(20)
    H = hessian(x)
    m = 200
    sd = np.sqrt(2 * (np.sum(H ** 2) - np.sum(np.diag(H) ** 2)) / m)
    answer = float(as_float_array(call_student(task, FORBIDDEN, student, f, x.copy(), m, np.random.default_rng(6)),
                                  f"{task}: the estimate"))
    if not abs(answer - np.trace(H)) <= 4 * sd + 1e-9:
        fail(f"{task}: estimate {answer:.4f} with {m} probes, exact trace {np.trace(H):.4f} "
             f"(standard deviation of the estimate {sd:.4f})")
