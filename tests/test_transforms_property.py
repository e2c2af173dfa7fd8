"""Randomly composed programs: every transform of adcourse against JAX's, to relative 1e-10."""
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import adcourse
import adcourse.numpy as anp
from conftest import assert_close

N = 4
M = np.random.default_rng(7).normal(size=(N, N)) / 2


def namespace(np_like, nn, logsumexp):
    """The building blocks, written once for both libraries."""
    return {
        "unary": [np_like.sin, np_like.cos, np_like.tanh, nn.sigmoid,
                  lambda a: np_like.log(1.0 + a * a), lambda a: np_like.sqrt(1.0 + a * a),
                  lambda a: np_like.exp(np_like.tanh(a)), lambda a: -a * 0.5,
                  lambda a: a @ M, lambda a: a[::-1], nn.softmax,
                  lambda a: np_like.reshape(a, (2, N // 2)).T.ravel() if hasattr(a, "T") else a,
                  lambda a: a - logsumexp(a)],
        "binary": [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                   lambda a, b: a / (1.0 + b * b), np_like.maximum,
                   lambda a, b: np_like.where(a > b, a, b * b),
                   lambda a, b: np_like.concatenate([a[:2], b[2:]]),
                   lambda a, b: np_like.sum(np_like.stack([a, b]), axis=0),
                   lambda a, b: np_like.outer(a, b) @ a],
    }


OURS = namespace(anp, anp, anp.logsumexp)
JAXS = namespace(jnp, jax.nn, jax.scipy.special.logsumexp)

step = st.tuples(st.booleans(), st.integers(0, 100), st.integers(0, 100), st.integers(0, 100))
programs = st.lists(step, min_size=1, max_size=8)


def build(program, ns):
    """f(x, y) -> vector: each step applies a block to earlier values (reuse and diamonds arise)."""
    def f(x, y):
        values = [x, y]
        for is_binary, op, i, j in program:
            pick = lambda k: values[k % len(values)]  # noqa: E731
            if is_binary:
                block = ns["binary"][op % len(ns["binary"])]
                values.append(block(pick(i), pick(j)))
            else:
                values.append(ns["unary"][op % len(ns["unary"])](pick(i)))
        return values[-1] + 0.1 * values[-2]
    return f


def scalar(f, np_like):
    return lambda x, y: np_like.sum(np_like.sin(f(x, y))) + np_like.sum(f(x, y) ** 2) / 4


SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
points = st.integers(0, 2 ** 31 - 1)


def inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=N), rng.normal(size=N), rng.normal(size=N), rng.normal(size=N)


@SETTINGS
@given(programs, points)
def test_first_order_transforms(program, seed):
    x, y, t, u = inputs(seed)
    f, jf = build(program, OURS), build(program, JAXS)
    L, jL = scalar(f, anp), scalar(jf, jnp)

    assert_close(adcourse.grad(L, (0, 1))(x, y), jax.grad(jL, (0, 1))(x, y))
    value, g = adcourse.value_and_grad(L)(x, y)
    j_value, j_g = jax.value_and_grad(jL)(x, y)
    assert_close(value, j_value)
    assert_close(g, j_g)
    assert_close(adcourse.jvp(f, (x, y), (t, u)), jax.jvp(jf, (x, y), (t, u)))
    out, pullback = adcourse.vjp(f, x, y)
    assert_close(pullback(t), jax.vjp(jf, x, y)[1](t))
    assert_close(adcourse.jacfwd(f, (0, 1))(x, y), jax.jacfwd(jf, (0, 1))(x, y))
    assert_close(adcourse.jacrev(f)(x, y), jax.jacrev(jf)(x, y))


@SETTINGS
@given(programs, points)
def test_second_order_transforms(program, seed):
    x, y, t, _ = inputs(seed)
    L, jL = scalar(build(program, OURS), anp), scalar(build(program, JAXS), jnp)
    assert_close(adcourse.hessian(L)(x, y), jax.hessian(jL)(x, y), rtol=1e-9)
    Lx, jLx = (lambda x: L(x, y)), (lambda x: jL(x, y))
    assert_close(adcourse.hvp(Lx, x, t), jax.jvp(jax.grad(jLx), (x,), (t,))[1], rtol=1e-9)
