"""Every primitive's forward (JVP) and reverse (VJP) rule against JAX, broadcasting included."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse
import adcourse.numpy as anp
from conftest import assert_close

POSITIVE = "positive"  # inputs drawn away from 0 for log, sqrt, division

# name: (adcourse function, jax function, argument shapes, domain)
CASES = {
    "add": (anp.add, jnp.add, [(3,), (2, 3)], None),
    "subtract": (anp.subtract, jnp.subtract, [(2, 1), (1, 3)], None),
    "multiply": (anp.multiply, jnp.multiply, [(), (2, 3)], None),
    "divide": (anp.divide, jnp.divide, [(2, 3), (3,)], POSITIVE),
    "negative": (anp.negative, jnp.negative, [(4,)], None),
    "power": (anp.power, jnp.power, [(2, 3), (2, 3)], POSITIVE),
    "power_int": (lambda x: x ** 3, lambda x: x ** 3, [(5,)], None),
    "rpow": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, [(5,)], None),
    "matmul_mm": (anp.matmul, jnp.matmul, [(3, 4), (4, 2)], None),
    "matmul_mv": (anp.matmul, jnp.matmul, [(3, 4), (4,)], None),
    "matmul_vm": (anp.matmul, jnp.matmul, [(4,), (4, 2)], None),
    "matmul_vv": (anp.matmul, jnp.matmul, [(4,), (4,)], None),
    "matmul_batched": (anp.matmul, jnp.matmul, [(2, 3, 4), (4, 5)], None),
    "dot": (anp.dot, jnp.dot, [(3, 4), (4,)], None),
    "vdot": (anp.vdot, jnp.vdot, [(2, 3), (2, 3)], None),
    "outer": (anp.outer, jnp.outer, [(3,), (4,)], None),
    "sum": (anp.sum, jnp.sum, [(2, 3)], None),
    "sum_axis": (lambda x: anp.sum(x, axis=1), lambda x: jnp.sum(x, axis=1), [(2, 3, 4)], None),
    "sum_axes_keep": (lambda x: anp.sum(x, axis=(0, 2), keepdims=True),
                      lambda x: jnp.sum(x, axis=(0, 2), keepdims=True), [(2, 3, 4)], None),
    "mean": (anp.mean, jnp.mean, [(2, 3)], None),
    "mean_axis_keep": (lambda x: anp.mean(x, axis=-1, keepdims=True),
                       lambda x: jnp.mean(x, axis=-1, keepdims=True), [(2, 3)], None),
    "exp": (anp.exp, jnp.exp, [(2, 3)], None),
    "log": (anp.log, jnp.log, [(2, 3)], POSITIVE),
    "sqrt": (anp.sqrt, jnp.sqrt, [(2, 3)], POSITIVE),
    "sin": (anp.sin, jnp.sin, [(2, 3)], None),
    "cos": (anp.cos, jnp.cos, [(2, 3)], None),
    "tanh": (anp.tanh, jnp.tanh, [(2, 3)], None),
    "sigmoid": (anp.sigmoid, jax.nn.sigmoid, [(2, 3)], None),
    "relu": (anp.relu, jax.nn.relu, [(2, 3)], None),
    "maximum": (anp.maximum, jnp.maximum, [(2, 3), (3,)], None),
    "minimum": (anp.minimum, jnp.minimum, [(2, 3), (2, 3)], None),
    "abs": (anp.abs, jnp.abs, [(2, 3)], None),
    "square": (anp.square, jnp.square, [(2, 3)], None),
    "norm": (anp.norm, jnp.linalg.norm, [(5,)], None),
    "where": (lambda x, y: anp.where(x > y, x, y * y), lambda x, y: jnp.where(x > y, x, y * y),
              [(2, 3), (3,)], None),
    "reshape": (lambda x: anp.reshape(x, (3, 2)), lambda x: jnp.reshape(x, (3, 2)), [(2, 3)], None),
    "transpose": (lambda x: anp.transpose(x, (2, 0, 1)), lambda x: jnp.transpose(x, (2, 0, 1)),
                  [(2, 3, 4)], None),
    "T": (lambda x: x.T, lambda x: x.T, [(2, 3)], None),
    "broadcast_to": (lambda x: anp.broadcast_to(x, (2, 3)), lambda x: jnp.broadcast_to(x, (2, 3)),
                     [(3,)], None),
    "getitem_slice": (lambda x: x[1:, ::2], lambda x: x[1:, ::2], [(3, 4)], None),
    "getitem_int": (lambda x: x[1], lambda x: x[1], [(3, 4)], None),
    "getitem_repeated": (lambda x: x[np.array([0, 2, 0])], lambda x: x[jnp.array([0, 2, 0])],
                         [(3, 2)], None),
    "getitem_mask": (lambda x: x[np.array([True, False, True])], lambda x: x[jnp.array([0, 2])],
                     [(3,)], None),
    "concatenate": (lambda x, y: anp.concatenate([x, y, x], axis=1),
                    lambda x, y: jnp.concatenate([x, y, x], axis=1), [(2, 3), (2, 1)], None),
    "stack": (lambda x, y: anp.stack([x, y], axis=1), lambda x, y: jnp.stack([x, y], axis=1),
              [(2, 3), (2, 3)], None),
    "logsumexp": (lambda x: anp.logsumexp(x, axis=1), lambda x: jax.scipy.special.logsumexp(x, axis=1),
                  [(2, 3)], None),
    "logsumexp_all": (anp.logsumexp, jax.scipy.special.logsumexp, [(2, 3)], None),
    "softmax": (anp.softmax, jax.nn.softmax, [(2, 3)], None),
    "log_softmax": (lambda x: anp.log_softmax(x, axis=0), lambda x: jax.nn.log_softmax(x, axis=0),
                    [(2, 3)], None),
}


def draw(rng, shape, domain):
    x = rng.normal(size=shape)
    return np.abs(x) + 0.5 if domain == POSITIVE else x


@pytest.mark.parametrize("name", CASES)
def test_jvp_and_vjp_match_jax(name, rng):
    fun, jfun, shapes, domain = CASES[name]
    xs = tuple(draw(rng, s, domain) for s in shapes)
    ts = tuple(rng.normal(size=s) for s in shapes)

    out, tangent = adcourse.jvp(fun, xs, ts)
    j_out, j_tangent = jax.jvp(jfun, xs, ts)
    assert_close(out, j_out)
    assert_close(tangent, j_tangent)

    out, pullback = adcourse.vjp(fun, *xs)
    ct = rng.normal(size=np.shape(j_out))
    assert_close(pullback(ct), jax.vjp(jfun, *xs)[1](ct))


@pytest.mark.parametrize("name", ["tanh", "log", "sigmoid", "logsumexp", "matmul_mv", "divide",
                                  "power", "maximum", "getitem_repeated", "concatenate", "norm"])
def test_second_order_rules_match_jax(name, rng):
    """Rules are written with adcourse.numpy, so they differentiate again: compare hvp-like products."""
    fun, jfun, shapes, domain = CASES[name]
    xs = tuple(draw(rng, s, domain) for s in shapes)
    ts = tuple(rng.normal(size=s) for s in shapes)
    ct = rng.normal(size=np.shape(jfun(*xs)))

    def pulled(fn, vjp):  # x ↦ ctᵀ ∂f(x), then its jvp: a mixed second derivative
        return lambda *x: vjp(fn, *x)[1](ct)

    ours = adcourse.jvp(pulled(fun, adcourse.vjp), xs, ts)[1]
    theirs = jax.jvp(pulled(jfun, jax.vjp), xs, ts)[1]
    assert_close(ours, theirs)


def test_operators_on_traced_values(rng):
    x, y = rng.normal(size=3), np.abs(rng.normal(size=3)) + 0.5
    M = rng.normal(size=(3, 3))

    def f(m, x, y):
        return ((x + y) * (x - y) / y ** 2 - -x + 2.0 * x + 1.0 / y - 3.0 - x) @ (M @ x) + (x @ M)[0] \
            + (M.T @ y).sum() * 0 + m.sum((x.T * x.shape[0] * x.ndim)[::-1])

    ours = adcourse.grad(lambda x, y: f(anp, x, y), (0, 1))(x, y)
    theirs = jax.grad(lambda x, y: f(jnp, x, y), (0, 1))(x, y)
    assert_close(ours, theirs)


def test_numpy_array_on_the_left_of_an_operator(rng):
    """ndarray + tracer goes through numpy's __array_ufunc__ and must still be differentiated."""
    a, x = rng.normal(size=3), rng.normal(size=3)
    f = lambda x: anp.sum(a * x + a - x / (a + 5.0) + np.float64(2.0) ** x)  # noqa: E731
    g = lambda x: jnp.sum(a * x + a - x / (a + 5.0) + 2.0 ** x)  # noqa: E731
    assert_close(adcourse.grad(f)(x), jax.grad(g)(x))


def test_values_at_non_differentiable_points_follow_jax():
    with np.errstate(divide="ignore"):
        assert adcourse.grad(anp.sqrt)(0.0) == jax.grad(jnp.sqrt)(0.0) == np.inf
        assert adcourse.grad(anp.log)(0.0) == jax.grad(jnp.log)(0.0) == np.inf
    assert adcourse.grad(anp.abs)(0.0) == jax.grad(jnp.abs)(0.0) == 1.0
    assert adcourse.grad(anp.relu)(0.0) == jax.grad(jax.nn.relu)(0.0) == 0.0
    assert adcourse.grad(anp.maximum, (0, 1))(1.0, 1.0) == tuple(jax.grad(jnp.maximum, (0, 1))(1.0, 1.0))
    assert adcourse.grad(lambda x: x ** 2.0)(0.0) == jax.grad(lambda x: x ** 2.0)(0.0) == 0.0
    assert adcourse.grad(lambda y: 0.0 ** y)(2.0) == jax.grad(lambda y: 0.0 ** y)(2.0)
