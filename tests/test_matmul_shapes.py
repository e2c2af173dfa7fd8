"""matmul, dot and @ on every shape pair numpy accepts, in both modes and to second order, against JAX.

Vectors, matrices, batches on either side, and batches that broadcast (1 against b, missing
against present): the rules have to put back the axis numpy drops for a 1-d operand and sum the
batch axes broadcasting added.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse as ad
import adcourse.numpy as anp
from conftest import assert_close

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
    ((3,), (2, 3, 4)), ((2, 5, 3), (3,)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)), ((1, 2, 3), (5, 3, 4)),
    ((3,), (2, 2, 3, 4)), ((2, 2, 5, 3), (3,)), ((6, 1, 2, 3), (1, 5, 3, 4)),
]
DOT_SHAPES = [
    ((), (3, 2)), ((2, 3), ()), ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3,)), ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)), ((2, 3), (5, 3, 4)),
    ((6, 2, 3), (5, 3, 4)), ((2, 2, 3), (2, 4, 3, 2)),
]
FUNCTIONS = {"matmul": (anp.matmul, jnp.matmul, MATMUL_SHAPES),
             "@": (lambda x, y: x @ y, lambda x, y: x @ y, MATMUL_SHAPES),
             "dot": (anp.dot, jnp.dot, DOT_SHAPES)}
CASES = [(name, a, b) for name, (_, _, pairs) in FUNCTIONS.items() for a, b in pairs]


def _inputs(a_shape, b_shape, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=a_shape), rng.normal(size=b_shape)
    tx, ty = rng.normal(size=a_shape), rng.normal(size=b_shape)
    return rng, x, y, tx, ty


@pytest.mark.parametrize("name,a_shape,b_shape", CASES, ids=[f"{n}-{a}-{b}" for n, a, b in CASES])
def test_first_and_second_order_match_jax(name, a_shape, b_shape):
    ours, theirs, _ = FUNCTIONS[name]
    rng, x, y, tx, ty = _inputs(a_shape, b_shape, abs(hash((name, a_shape, b_shape))) % 2**32)
    out_shape = np.shape(np.asarray(theirs(jnp.asarray(x), jnp.asarray(y))))
    assert np.shape(ours(x, y)) == out_shape
    assert_close(ours(x, y), theirs(x, y))
    c = rng.normal(size=out_shape)

    def loss(xp, f):  # a scalar whose second derivative involves both operands
        return lambda x, y: xp.sum(xp.sin(f(x, y)) * c)

    L, L_jax = loss(anp, ours), loss(jnp, theirs)
    # forward mode, on the product itself
    value, tangent = ad.jvp(ours, (x, y), (tx, ty))
    value_j, tangent_j = jax.jvp(theirs, (x, y), (tx, ty))
    assert_close(value, value_j)
    assert_close(tangent, tangent_j)
    # reverse mode, with respect to both operands and to each alone
    assert_close(ad.grad(L, argnums=(0, 1))(x, y), jax.grad(L_jax, argnums=(0, 1))(x, y))
    assert_close(ad.grad(L, argnums=1)(x, y), jax.grad(L_jax, argnums=1)(x, y))
    assert_close(ad.jacrev(ours)(x, y), jax.jacrev(theirs)(x, y))
    assert_close(ad.jacfwd(ours, argnums=1)(x, y), jax.jacfwd(theirs, argnums=1)(x, y))
    # second order: forward over reverse, and reverse over reverse
    fwd_rev = ad.jvp(ad.grad(L, argnums=(0, 1)), (x, y), (tx, ty))[1]
    fwd_rev_j = jax.jvp(jax.grad(L_jax, argnums=(0, 1)), (x, y), (tx, ty))[1]
    assert_close(fwd_rev, fwd_rev_j, rtol=1e-9)

    def directional(xp, grad_of):
        return lambda x, y: sum(xp.sum(g * t) for g, t in zip(grad_of(x, y), (tx, ty)))

    rev_rev = ad.grad(directional(anp, ad.grad(L, argnums=(0, 1))), argnums=(0, 1))(x, y)
    rev_rev_j = jax.grad(directional(jnp, jax.grad(L_jax, argnums=(0, 1))), argnums=(0, 1))(x, y)
    assert_close(rev_rev, rev_rev_j, rtol=1e-9)


def test_the_reported_cases():
    """The two cases of the engine issue: a 1-d operand against a batched one, on either side."""
    x = np.array([1.0, 2.0, 3.0])
    y = np.arange(24.0).reshape(2, 3, 4) / 10
    assert_close(ad.grad(lambda x: anp.sum(anp.matmul(x, y)))(x), np.array([6.0, 9.2, 12.4]))
    a = np.arange(12.0).reshape(2, 2, 3)
    assert_close(ad.grad(lambda v: anp.sum(anp.matmul(a, v)))(x), np.sum(a, axis=(0, 1)))


def test_grad_refuses_a_complex_output_like_jax():
    with pytest.raises(TypeError, match="real-valued output"):
        ad.grad(lambda x: x * (1.0 + 2.0j))(1.0)
    with pytest.raises(TypeError):
        jax.grad(lambda x: x * (1.0 + 2.0j))(1.0)
