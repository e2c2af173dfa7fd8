"""Randomly composed programs: every transform of adcourse against JAX's, to relative 1e-10.

The blocks include functions with rules of their own (custom_jvp, and custom_vjp in the programs
that only reverse mode sees, since forward mode refuses a custom VJP as JAX does)."""
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


def custom_blocks(np_like, nn, lib):
    """Blocks with rules of their own, written once for adcourse and JAX (lib: either library):
    softplus and a smooth norm by custom JVP rules, x·tanh(kx) (k not differentiated) and a
    product of a pair by custom VJP rules."""
    @lib.custom_jvp
    def softplus(a):
        return np_like.log1p(np_like.exp(a))

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        return softplus(primals[0]), tangents[0] * nn.sigmoid(primals[0])

    smooth_norm = lib.custom_jvp(lambda a, b: np_like.sqrt(a * a + b * b + 1.0))
    smooth_norm.defjvps(lambda ta, ans, a, b: ta * a / ans, lambda tb, ans, a, b: tb * b / ans)

    x_tanh = lib.custom_vjp(lambda k, a: a * np_like.tanh(k * a), nondiff_argnums=(0,))
    x_tanh.defvjp(lambda k, a: (a * np_like.tanh(k * a), (a, np_like.tanh(k * a))),
                  lambda k, res, g: (g * (res[1] + k * res[0] * (1.0 - res[1] ** 2)),))
    pair_product = lib.custom_vjp(lambda ab: ab[0] * ab[1])
    pair_product.defvjp(lambda ab: (ab[0] * ab[1], ab), lambda ab, g: ((g * ab[1], g * ab[0]),))
    return {"jvp": ([softplus], [smooth_norm]),
            "vjp": ([lambda a: x_tanh(1.5, a)], [lambda a, b: pair_product((a, b))])}


def namespace(np_like, nn, logsumexp, lib, custom=("jvp",)):
    """The building blocks, written once for both libraries."""
    blocks = custom_blocks(np_like, nn, lib)
    extra_unary = [f for kind in custom for f in blocks[kind][0]]
    extra_binary = [f for kind in custom for f in blocks[kind][1]]
    return {
        "unary": [np_like.sin, np_like.cos, np_like.tanh, nn.sigmoid,
                  lambda a: np_like.log(1.0 + a * a), lambda a: np_like.sqrt(1.0 + a * a),
                  lambda a: np_like.exp(np_like.tanh(a)), lambda a: -a * 0.5,
                  lambda a: a @ M, lambda a: a[::-1], nn.softmax,
                  lambda a: np_like.reshape(a, (2, N // 2)).T.ravel() if hasattr(a, "T") else a,
                  lambda a: a - logsumexp(a)] + extra_unary,
        "binary": [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                   lambda a, b: a / (1.0 + b * b), np_like.maximum,
                   lambda a, b: np_like.where(a > b, a, b * b),
                   lambda a, b: np_like.concatenate([a[:2], b[2:]]),
                   lambda a, b: np_like.sum(np_like.stack([a, b]), axis=0),
                   lambda a, b: np_like.outer(a, b) @ a] + extra_binary,
    }


OURS = namespace(anp, anp, anp.logsumexp, adcourse)
JAXS = namespace(jnp, jax.nn, jax.scipy.special.logsumexp, jax)
OURS_REVERSE = namespace(anp, anp, anp.logsumexp, adcourse, custom=("jvp", "vjp"))
JAXS_REVERSE = namespace(jnp, jax.nn, jax.scipy.special.logsumexp, jax, custom=("jvp", "vjp"))

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


def functions(program, ours=OURS, theirs=JAXS):
    """The program in both libraries: as a vector function f(x, y), and as a scalar loss."""
    f, jf = build(program, ours), build(program, theirs)
    return f, jf, scalar(f, anp), scalar(jf, jnp)


def inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=N), rng.normal(size=N), rng.normal(size=N), rng.normal(size=N)


@SETTINGS
@given(programs, points)
def test_first_order_transforms(program, seed):
    x, y, t, u = inputs(seed)
    f, jf, L, jL = functions(program)
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
    _, _, L, jL = functions(program)
    assert_close(adcourse.hessian(L)(x, y), jax.hessian(jL)(x, y), rtol=1e-9)
    Lx, jLx = (lambda x: L(x, y)), (lambda x: jL(x, y))
    assert_close(adcourse.hvp(Lx, x, t), jax.jvp(jax.grad(jLx), (x,), (t,))[1], rtol=1e-9)


@SETTINGS
@given(programs, points)
def test_reverse_mode_transforms_with_custom_vjp_rules(program, seed):
    x, y, t, _ = inputs(seed)
    f, jf, L, jL = functions(program, OURS_REVERSE, JAXS_REVERSE)
    assert_close(adcourse.grad(L, (0, 1))(x, y), jax.grad(jL, (0, 1))(x, y))
    assert_close(adcourse.vjp(f, x, y)[1](t), jax.vjp(jf, x, y)[1](t))
    assert_close(adcourse.jacrev(f, 1)(x, y), jax.jacrev(jf, 1)(x, y))
    assert_close(adcourse.jacrev(adcourse.grad(L))(x, y), jax.jacrev(jax.grad(jL))(x, y), rtol=1e-9)
    Lx, jLx = (lambda x: L(x, y)), (lambda x: jL(x, y))
    assert_close(adcourse.hvp(Lx, x, t), jax.jvp(jax.grad(jLx), (x,), (t,))[1], rtol=1e-9)


@SETTINGS
@given(programs, points)
def test_linearize_its_transpose_and_batched_tangents(program, seed):
    """Reverse mode is the transpose of the linearized function (Autodidax): the VJP equals the
    transpose of the JVP, for adcourse and JAX alike."""
    x, y, t, u = inputs(seed)
    f, jf, _, _ = functions(program)
    out, f_jvp = adcourse.linearize(f, x, y)
    j_out, j_f_jvp = jax.linearize(jf, x, y)
    assert_close(out, j_out)
    assert_close(f_jvp(t, u), j_f_jvp(t, u))
    assert_close(f_jvp(u, t), j_f_jvp(u, t))  # the same tape, swept again
    transposed = adcourse.linear_transpose(f_jvp, x, y)(t)
    assert_close(transposed, jax.linear_transpose(j_f_jvp, x, y)(t))
    assert_close(transposed, adcourse.vjp(f, x, y)[1](t))
    directions = np.stack([t, u, t - u]), np.stack([u, t, 2 * u])
    out, tangents = adcourse.batched_jvp(f, (x, y), directions)
    assert_close(tangents, jax.vmap(lambda a, b: jax.jvp(jf, (x, y), (a, b))[1])(*directions))
