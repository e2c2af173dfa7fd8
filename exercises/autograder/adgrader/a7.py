"""Hidden checks of assignment 7: Jacobians by forward and by reverse sweeps, a cost model,
and a mixed order for a graph with a waist.

The student's functions get metered functions: a function that counts how often it is
recorded for reverse mode (called on a tape's tracer), and whose output passes through an
identity primitive whose forward and reverse rules count the sweeps that reach it. So the
sweeps counted are the sweeps made, however the code is written. Reference Jacobians: closed
forms (the student may use ``adcourse.jvp`` and ``vjp`` here, so ``adcourse`` must not be
the judge as well); the test suite checks them against ``jax.jacfwd``.
"""

import numpy as np

import adcourse.numpy as anp
from adcourse.core import Primitive
from adcourse.reverse import VJPTracer

from .guard import (Forbidden, as_float_array, assert_close, assert_equal, call_student, fail, get, seed)

FORBIDDEN = Forbidden(functions=("adcourse.grad", "adcourse.value_and_grad", "adcourse.jacfwd", "adcourse.jacrev",
                                 "adcourse.hessian", "adcourse.hvp"),
                      modules=("adcourse.finite_diff",))


class _Meter:
    """Recordings of a function for reverse mode, and the sweeps through it."""

    def __init__(self):
        self.recordings = self.forward = self.backward = 0

    def sweeps(self):
        return self.forward + self.backward


def metered(f):
    """(f with the same values and derivatives, its meter)."""
    meter = _Meter()

    def forward_rule(t, ans, y):
        meter.forward += 1
        return t

    def backward_rule(g, ans, y):
        meter.backward += 1
        return g

    probe = Primitive("sweep_meter", lambda y: y, jvp=(forward_rule,), vjp=(backward_rule,))

    def wrapped(x):
        if isinstance(x, VJPTracer):
            meter.recordings += 1
        return probe(f(x))

    return wrapped, meter


def functions(rng, n, m, xp=anp):
    """Functions R^n -> R^m written with ``xp`` (adcourse.numpy here, jax.numpy in the test of
    these references): {name: (f, its Jacobian in closed form)}."""
    A = rng.standard_normal((m, n)) / np.sqrt(n)
    C = rng.standard_normal((m, n)) / np.sqrt(n)

    def layer(x):
        return xp.tanh(A @ x)

    def layer_jacobian(x):
        return (1 - np.tanh(A @ x) ** 2)[:, None] * A

    def scaled(x):
        return xp.exp(0.5 * (C @ x)) * xp.sum(x * x)

    def scaled_jacobian(x):
        e = np.exp(0.5 * (C @ x))
        return 0.5 * (e * (x @ x))[:, None] * C + 2 * np.outer(e, x)

    return {"tanh(Ax)": (layer, layer_jacobian), "exp(Cx/2) |x|^2": (scaled, scaled_jacobian)}


def waist_functions(rng, n, k, m, xp=anp):
    """h: R^n -> R^k and g: R^k -> R^m, and the Jacobian of g(h(w)) in closed form."""
    P = rng.standard_normal((k, n)) / np.sqrt(n)
    S = rng.standard_normal((m, k))

    def h(w):
        return xp.tanh(P @ w)

    def g(s):
        return xp.sin(S @ s) * (1.0 + xp.sum(s * s))

    def jacobian(w):
        s = np.tanh(P @ w)
        J_h = (1 - s ** 2)[:, None] * P
        J_g = (np.cos(S @ s) * (1.0 + s @ s))[:, None] * S + 2 * np.outer(np.sin(S @ s), s)
        return J_g @ J_h

    return h, g, jacobian


SIZES = ((1, 4), (4, 1), (3, 5), (6, 2), (10, 10))


def _jacobians(namespace, task, name):
    """The student's Jacobians for every function and size, with each call's meter."""
    __tracebackhide__ = True
    student = get(namespace, name, task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for n, m in SIZES:
        for label, (f, jacobian) in functions(rng, n, m).items():
            x = rng.standard_normal(n)
            wrapped, meter = metered(f)
            cases.append((label, n, m, x, jacobian(x), wrapped, meter))
    answers = call_student(task, FORBIDDEN, lambda: [student(wrapped, x.copy())
                                                     for _, _, _, x, _, wrapped, _ in cases])
    for (label, n, m, _, expected, _, meter), answer in zip(cases, answers):
        J = as_float_array(answer, f"{task}: the Jacobian of {label}")
        if J.shape != (m, n):
            fail(f"{task}: the Jacobian of {label} from R^{n} to R^{m} has shape {J.shape}, expected {(m, n)}")
        assert_close(J, expected, rtol=1e-10, atol=1e-12, what=f"{task}: the Jacobian of {label}, n = {n}, m = {m}")
        yield n, m, meter


def forward_sweeps(namespace):
    """The Jacobian against closed forms, with exactly n forward sweeps and no reverse work."""
    __tracebackhide__ = True
    task = "task 1"
    for n, m, meter in _jacobians(namespace, task, "jacobian_forward"):
        assert_equal(meter.forward, n, what=f"{task}: forward sweeps (jvp) for n = {n} inputs, m = {m} outputs")
        assert_equal(meter.backward, 0, what=f"{task}: backward sweeps for n = {n}, m = {m}")


def reverse_sweeps(namespace):
    """The Jacobian against closed forms, f recorded once and exactly m backward sweeps."""
    __tracebackhide__ = True
    task = "task 2"
    for n, m, meter in _jacobians(namespace, task, "jacobian_reverse"):
        assert_equal(meter.recordings, 1, what=f"{task}: recordings of f (vjp) for n = {n}, m = {m}")
        assert_equal(meter.backward, m, what=f"{task}: backward sweeps (pullback calls) for n = {n} inputs, "
                                             f"m = {m} outputs")
        assert_equal(meter.forward, 0, what=f"{task}: forward sweeps for n = {n}, m = {m}")


def reference_fit(n, ms, t_fwd, t_rev):
    """s_f = mean of t_fwd / n; (r_0, s_b) = the least-squares line of t_rev on m."""
    design = np.stack([np.ones_like(ms), ms], axis=1)
    (r_0, s_b), *_ = np.linalg.lstsq(design, t_rev, rcond=None)
    return np.array([np.mean(t_fwd) / n, r_0, s_b])


def cost_model(namespace):
    """The fit on synthetic timings with 10 % noise, against the fit the task defines, and the
    crossover against the model's own."""
    __tracebackhide__ = True
    task = "task 3"
    fit = get(namespace, "fit_cost_model", task)
    crossover = get(namespace, "crossover_ratio", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for n, ms in ((20, [2, 4, 8, 16, 32, 64, 128]), (7, [1, 3, 9]), (100, [5, 10, 20, 50, 100, 200, 500, 1000])):
        ms = np.array(ms, dtype=float)
        s_f, r_0, s_b = rng.uniform(1e-5, 1e-4, 3)
        t_fwd = n * s_f * rng.uniform(0.9, 1.1, ms.size)
        t_rev = (r_0 + s_b * ms) * rng.uniform(0.9, 1.1, ms.size)
        cases.append((n, ms, t_fwd, t_rev))
    constants = [tuple(rng.uniform(1, 10, 3)) + (n,) for n in (1, 10, 100)]
    fitted, ratios = call_student(task, FORBIDDEN, lambda: (
        [fit(n, ms.copy(), t_fwd.copy(), t_rev.copy()) for n, ms, t_fwd, t_rev in cases],
        [crossover(n, s_f, r_0, s_b) for s_f, r_0, s_b, n in constants]))
    for (n, ms, t_fwd, t_rev), answer in zip(cases, fitted):
        expected = reference_fit(n, ms, t_fwd, t_rev)
        assert_close(as_float_array(answer, f"{task}: (s_f, r_0, s_b)"), expected, rtol=1e-9, atol=0.0,
                     what=f"{task}: (s_f, r_0, s_b) fitted to {ms.size} timings with n = {n}")
    for (s_f, r_0, s_b, n), answer in zip(constants, ratios):
        assert_close(as_float_array(answer, f"{task}: the crossover"), (n * s_f - r_0) / (n * s_b),
                     rtol=1e-10, atol=1e-12, what=f"{task}: crossover_ratio({n}, {s_f:.3f}, {r_0:.3f}, {s_b:.3f})")


def waist(namespace):
    """The Jacobian of g(h(w)) against the closed form, in 2k sweeps."""
    __tracebackhide__ = True
    task = "task 4"
    student = get(namespace, "waist_jacobian", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for n, k, m in ((12, 1, 9), (20, 2, 15), (16, 3, 30)):
        h, g, jacobian = waist_functions(rng, n, k, m)
        w = rng.standard_normal(n)
        (h_metered, h_meter), (g_metered, g_meter) = metered(h), metered(g)
        cases.append((n, k, m, w, jacobian(w), h_metered, g_metered, h_meter, g_meter))
    answers = call_student(task, FORBIDDEN, lambda: [student(hm, gm, w.copy()) for _, _, _, w, _, hm, gm, _, _ in cases])
    for (n, k, m, _, expected, _, _, h_meter, g_meter), answer in zip(cases, answers):
        J = as_float_array(answer, f"{task}: the Jacobian")
        if J.shape != (m, n):
            fail(f"{task}: the Jacobian for n = {n}, k = {k}, m = {m} has shape {J.shape}, expected {(m, n)}")
        assert_close(J, expected, rtol=1e-10, atol=1e-12, what=f"{task}: the Jacobian for n = {n}, k = {k}, m = {m}")
        sweeps = h_meter.sweeps() + g_meter.sweeps()
        if sweeps != 2 * k:
            fail(f"{task}: {sweeps} sweeps for n = {n}, k = {k}, m = {m} ({h_meter.forward} forward and "
                 f"{h_meter.backward} backward through h, {g_meter.forward} forward and {g_meter.backward} "
                 f"backward through g); the mixed order needs 2k = {2 * k}")
