"""Finite differences against exact derivatives and their error theory; check_grads
against adcourse's engine, and against derivatives made wrong on purpose."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse
import adcourse.numpy as anp
from adcourse.finite_diff import (EPS, SCHEMES, Estimate, StepVanished, check_grads, default_step,
                                  error_model, fd_directional, fd_gradient, fd_jacobian,
                                  optimal_step, step_error_curve)

jax.config.update("jax_enable_x64", True)


class Counted:
    """f that counts its calls, so evaluation counts are measured, not trusted."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, x):
        self.calls += 1
        return self.f(x)


def sum_sin_squared(x):
    return np.sum(np.sin(x) ** 2)


X = np.array([[0.3, 1.2, -0.4], [2.0, -1.0, 0.05]])
GRAD_X = 2 * np.sin(X) * np.cos(X)  # ∇ Σ sin² x_i


# --- gradients, directional derivatives, Jacobians -----------------------------------------

@pytest.mark.parametrize("scheme, tolerance, evaluations", [
    ("forward", 1e-7, X.size + 1), ("backward", 1e-7, X.size + 1),
    ("central", 1e-9, 2 * X.size), ("complex", 1e-15, X.size)])
def test_gradient_accuracy_and_cost(scheme, tolerance, evaluations):
    f = Counted(sum_sin_squared)
    estimate = fd_gradient(f, X, scheme)
    assert isinstance(estimate, Estimate)
    assert estimate.value.shape == X.shape
    assert estimate.evaluations == f.calls == evaluations
    assert np.max(np.abs(estimate.value - GRAD_X)) < tolerance


def test_one_sided_error_is_first_order_and_central_second_order():
    # truncation side of the V: halving h halves the one-sided error, quarters the central one
    x, exact = np.array(0.8), np.cos(0.8)
    for scheme, order in (("forward", 1), ("backward", 1), ("central", 2)):
        e1 = abs(fd_gradient(np.sin, x, scheme, 1e-2).value - exact)
        e2 = abs(fd_gradient(np.sin, x, scheme, 5e-3).value - exact)
        assert e1 / e2 == pytest.approx(2 ** order, rel=0.02)


@pytest.mark.parametrize("scheme, evaluations", [("forward", 2), ("backward", 2), ("central", 2), ("complex", 1)])
def test_directional_derivative(scheme, evaluations):
    v = np.random.default_rng(0).standard_normal(X.shape)
    f = Counted(sum_sin_squared)
    estimate = fd_directional(f, X, v, scheme)
    assert estimate.evaluations == f.calls == evaluations
    tolerance = {"forward": 1e-7, "backward": 1e-7, "central": 1e-9, "complex": 1e-14}[scheme]
    assert estimate.value == pytest.approx(np.sum(GRAD_X * v), abs=tolerance)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_jacobian_matches_jax_shape_and_values(scheme):
    M = np.random.default_rng(1).standard_normal((2, 2, 2, 3))

    def f(x, np=np):  # R^{2×3} → R^{2×2}; the same code runs on jax.numpy
        return np.sin(np.tensordot(M, x, axes=2)) * x[0, 0]

    x = np.random.default_rng(2).standard_normal((2, 3))
    counted = Counted(f)
    estimate = fd_jacobian(counted, x, scheme)
    reference = jax.jacfwd(lambda x: f(x, np=jnp))(x)
    assert estimate.value.shape == reference.shape == (2, 2, 2, 3)
    assert estimate.evaluations == counted.calls == {"forward": 7, "backward": 7, "central": 12, "complex": 6}[scheme]
    tolerance = {"forward": 1e-6, "backward": 1e-6, "central": 1e-9, "complex": 1e-14}[scheme]
    np.testing.assert_allclose(estimate.value, reference, atol=tolerance)


def test_complex_step_is_exact_to_rounding():
    # f = eˣ·sin x·x³ on (0, π/2), f' = eˣ·x²·(x sin x + x cos x + 3 sin x): every term positive,
    # so neither the complex arithmetic nor the reference cancels; even at tiny steps
    def f(x):
        return np.exp(x) * np.sin(x) * (x * x * x)  # x**3 on complex numbers goes through exp(3 log x)

    x = np.linspace(0.1, 1.5, 8)
    exact = np.exp(x) * x ** 2 * (x * np.sin(x) + x * np.cos(x) + 3 * np.sin(x))
    for step in (None, 1e-30, 1e-100):  # truncation h²|f'''|/6 is below rounding for h < 1e-9
        estimate = fd_jacobian(f, x, "complex", step).value.diagonal()
        np.testing.assert_allclose(estimate, exact, rtol=4 * EPS, atol=0)
    central = fd_jacobian(f, x, "central", 1e-13).value.diagonal()
    assert np.max(np.abs(central / exact - 1)) > 1e-4  # where a real difference has lost the digits


def test_default_steps():
    x = np.array([0.0, 0.5, -3.0, 1e6])
    np.testing.assert_allclose(default_step(x, "forward"), np.sqrt(EPS) * np.array([1, 1, 3, 1e6]))
    np.testing.assert_allclose(default_step(x, "backward"), np.sqrt(EPS) * np.array([1, 1, 3, 1e6]))
    np.testing.assert_allclose(default_step(x, "central"), np.cbrt(EPS) * np.array([1, 1, 3, 1e6]))
    # why scale with |x|: at x = 1e6, log's rounding error ε·|log x|/h swamps f' = 1e-6 unless h grows with x
    scaled = fd_gradient(np.log, 1e6, "forward").value
    unscaled = fd_gradient(np.log, 1e6, "forward", step=np.sqrt(EPS)).value
    assert abs(scaled * 1e6 - 1) < 1e-6 and abs(unscaled * 1e6 - 1) > 1e-3


# --- the V: truncation against rounding -----------------------------------------------------

CASES = [  # f, f', f'', f''' and a base point
    ("exp", np.exp, np.exp, np.exp, np.exp, 1.0),
    ("sin", np.sin, np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), 0.7),
    ("log", np.log, lambda x: 1 / x, lambda x: -1 / x ** 2, lambda x: 2 / x ** 3, 3.0),
]


@pytest.mark.parametrize("name, f, d1, d2, d3, x0", CASES, ids=[c[0] for c in CASES])
def test_error_curve_minimum_is_near_the_theoretical_step(name, f, d1, d2, d3, x0):
    # 32 nearby points at once (f acts elementwise, the Jacobian is diagonal): the largest
    # error over them is a steady measure of rounding, where one point's error jumps about
    x = x0 * (1 + 0.01 * np.random.default_rng(3).uniform(size=32))
    curve = step_error_curve(f, x, np.diag(d1(x)), steps=np.logspace(-14, -1, 105),
                             schemes=("forward", "backward", "central", "complex"))
    value_scale = np.max(np.abs(f(x)))
    for scheme, higher in (("forward", d2), ("backward", d2), ("central", d3)):
        derivative_scale = np.max(np.abs(higher(x)))
        h_star = optimal_step(scheme, value_scale, derivative_scale)
        errors = curve.errors[scheme]
        best = curve.steps[np.nanargmin(errors)]
        assert h_star / 10 < best < h_star * 10, (scheme, best, h_star)
        # the bound is a bound, and not a loose one
        bound = error_model(scheme, h_star, value_scale, derivative_scale)
        assert bound / 10 < np.nanmin(errors) <= bound
        # both arms of the V: error at 1e-1 and at 1e-13 is far above the bottom
        assert errors[0] > 100 * np.nanmin(errors) and errors[-1] > 100 * np.nanmin(errors)
    # the complex step has no V: exact to rounding at every small step, truncation only at large ones
    small = curve.steps <= 1e-8
    assert np.max(curve.errors["complex"][small]) <= 4 * EPS * np.max(np.abs(d1(x)))
    assert curve.errors["complex"][-1] > 1e3 * np.max(curve.errors["complex"][small])


def test_optimal_step_minimises_the_model():
    steps = np.logspace(-12, 0, 20001)
    for scheme in ("forward", "central"):
        model = error_model(scheme, steps, 2.0, 0.5)
        assert steps[np.argmin(model)] == pytest.approx(optimal_step(scheme, 2.0, 0.5), rel=2e-3)
    assert optimal_step("forward", 1.0, 1.0) == pytest.approx(2 * np.sqrt(EPS))
    assert optimal_step("central", 1.0, 1.0) == pytest.approx(np.cbrt(3 * EPS))


def test_steps_too_small_to_move_x_are_marked_nan():
    curve = step_error_curve(np.exp, 1.0, np.exp(1.0), steps=[1e-20, 1e-5], schemes=("forward", "complex"))
    assert np.isnan(curve.errors["forward"][0]) and curve.errors["forward"][1] < 1e-4
    assert curve.errors["complex"][0] < 1e-15  # the complex step has no x + h to round
    with pytest.raises(StepVanished, match="vanishes"):
        fd_gradient(np.exp, 1.0, "forward", 1e-20)


# --- bad arguments ----------------------------------------------------------------------------

@pytest.mark.parametrize("step", [0.0, -1e-3, np.nan, np.inf])
@pytest.mark.parametrize("call", [fd_gradient, fd_jacobian, lambda f, x, s, step: fd_directional(f, x, x + 1, s, step)])
def test_bad_steps_are_refused(call, step):
    with pytest.raises(ValueError, match="step must be positive and finite"):
        call(sum_sin_squared, X, "central", step=step)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="step must be a number or an array of shape"):
        fd_gradient(sum_sin_squared, X, "forward", step=np.ones(3))
    with pytest.raises(ValueError, match="scheme must be one of"):
        fd_gradient(sum_sin_squared, X, "centered")
    with pytest.raises(ValueError, match="use fd_jacobian"):
        fd_gradient(np.sin, X)
    with pytest.raises(ValueError, match="direction v has shape"):
        fd_directional(sum_sin_squared, X, np.ones(3))
    with pytest.raises(ValueError, match="direction v is zero"):
        fd_directional(sum_sin_squared, X, np.zeros_like(X))
    with pytest.raises(ValueError, match="x contains nan or inf"):
        fd_gradient(sum_sin_squared, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="x must be real"):
        fd_gradient(sum_sin_squared, np.array([1.0 + 1j]))
    with pytest.raises(TypeError, match="dropped the imaginary part"):
        fd_gradient(lambda x: np.sum(np.abs(x)), X, "complex")
    with pytest.raises(ValueError, match="exact has shape"):
        step_error_curve(sum_sin_squared, X, np.ones(3), steps=[1e-5])
    with pytest.raises(ValueError, match="complex step has no"):
        optimal_step("complex", 1.0, 1.0)


# --- check_grads ------------------------------------------------------------------------------

def test_check_grads_passes_on_the_engine_to_second_order():
    rng = np.random.default_rng(4)
    A, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    check_grads(lambda x: anp.sum(anp.sin(x) * x), (rng.standard_normal(5),), order=2, rng=0)
    check_grads(lambda x, y: anp.tanh(x @ y), (A, b), order=2, rng=1)
    check_grads(lambda x: anp.exp(x) / anp.sum(anp.exp(x)), (rng.standard_normal(4),), order=2, rng=2)
    check_grads(lambda x: x * x, (np.array(1.5),), order=2, modes="rev", rng=3)


def _numbers_after(label, message):
    line = message.split(label, 1)[1].split("\n")[1]
    return np.array([float(t) for t in re.findall(r"-?\d+\.\d*(?:e[+-]?\d+)?", line)])


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_check_grads_catches_a_wrong_derivative(mode):
    # the engine is right; we make it 1% wrong and check_grads must notice and say which is which
    true_jvp, true_vjp = adcourse.jvp, adcourse.vjp
    returned = []

    def wrong_jvp(fun, primals, tangents):
        out, tangent = true_jvp(fun, primals, tangents)
        returned.append(np.asarray(tangent) * 1.01)
        return out, returned[-1]

    def wrong_vjp(fun, *primals):
        out, pullback = true_vjp(fun, *primals)
        return out, lambda u: tuple(1.01 * np.asarray(c) for c in pullback(u))

    def f(x):
        return anp.sin(x) * 2.0

    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(AssertionError) as failure:
        check_grads(f, (x,), modes=(mode,), rng=0, jvp=wrong_jvp, vjp=wrong_vjp)
    message = str(failure.value)
    assert "numerical estimate" in message and "AD value" in message and "direction v" in message
    assert ("wrong_jvp" if mode == "fwd" else "wrong_vjp") in message
    numerical, ad = _numbers_after("numerical estimate", message), _numbers_after("AD value", message)
    np.testing.assert_allclose(ad, 1.01 * numerical, rtol=1e-4)
    if mode == "fwd":  # the AD value shown is the one the (wrong) jvp returned
        np.testing.assert_allclose(ad, returned[-1], rtol=1e-5)
    check_grads(f, (x,), modes=(mode,), rng=0)  # and the same check passes on the true engine


def test_order_two_catches_a_wrong_second_derivative():
    # check_grads only needs jvp/vjp with JAX's semantics, so it can run on JAX itself. A JAX
    # custom rule whose tangent is right but frozen (stop_gradient) has a wrong second derivative.
    on_jax = dict(jvp=jax.jvp, vjp=jax.vjp)

    @jax.custom_jvp
    def f(x):
        return jnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return jnp.sin(x), jnp.cos(jax.lax.stop_gradient(x)) * t

    x = np.array([0.4, 1.3])
    for mode in ("fwd", "rev"):  # each mode's second-order check catches it on its own
        check_grads(f, (x,), order=1, modes=mode, rng=0, **on_jax)
        check_grads(jnp.sin, (x,), order=2, modes=mode, rng=0, **on_jax)
        with pytest.raises(AssertionError, match=f"of the {'jvp' if mode == 'fwd' else 'vjp'} of f"):
            check_grads(f, (x,), order=2, modes=mode, rng=0, **on_jax)


def test_check_grads_refuses_bad_arguments():
    f = lambda x: x * 2.0  # noqa: E731
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        check_grads(f, (np.ones(2),), order=3)
    with pytest.raises(ValueError, match="modes must be"):
        check_grads(f, (np.ones(2),), modes=("forward",))
    with pytest.raises(TypeError, match="args must be a tuple"):
        check_grads(f, np.ones(2))
    with pytest.raises(ValueError, match="eps must be positive"):
        check_grads(f, (np.ones(2),), eps=0.0)
