"""custom_jvp, custom_vjp, linearize, linear_transpose and batched_jvp against JAX: the rules are the
ones used, in every mode and nested, and misuse gets JAX's errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse as ad
import adcourse.numpy as anp
from conftest import assert_close


def doubled_sin(lib, xp):
    """sin with a JVP rule that says 2 cos: wrong on purpose, so that only the rule can give it."""
    f = lib.custom_jvp(xp.sin)

    @f.defjvp
    def rule(primals, tangents):
        return f(primals[0]), 2.0 * xp.cos(primals[0]) * tangents[0]
    return f


def test_a_custom_jvp_rule_is_used_by_every_transform():
    f, jf = doubled_sin(ad, anp), doubled_sin(jax, jnp)
    x, t = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    L, jL = (lambda x: anp.sum(f(x) * x)), (lambda x: jnp.sum(jf(x) * x))
    assert_close(ad.jvp(f, (x,), (t,)), jax.jvp(jf, (x,), (t,)))
    assert_close(ad.vjp(f, x)[1](t), jax.vjp(jf, x)[1](t))
    assert_close(ad.jacfwd(f)(x), jax.jacfwd(jf)(x))
    assert_close(ad.jacrev(f)(x), jax.jacrev(jf)(x))
    for hessian in (ad.hessian, lambda g: ad.jacrev(ad.jacrev(g)), lambda g: ad.jacfwd(ad.jacfwd(g))):
        assert_close(hessian(L)(x), jax.hessian(jL)(x))
    assert_close(ad.grad(L)(x), 2 * np.cos(x) * x + np.sin(x))


def test_a_stable_softplus_whose_naive_derivative_overflows():
    softplus = ad.custom_jvp(lambda x: anp.where(x > 30.0, x, anp.log1p(anp.exp(anp.minimum(x, 30.0)))))
    softplus.defjvp(lambda p, t: (softplus(p[0]), t[0] * anp.sigmoid(p[0])))
    naive = lambda x: anp.log1p(anp.exp(x))  # noqa: E731
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(ad.grad(naive)(1000.0))  # exp overflows: inf / inf
    assert ad.grad(softplus)(1000.0) == 1.0
    assert_close(ad.grad(ad.grad(softplus))(0.7), jax.grad(jax.grad(jax.nn.softplus))(0.7))


def clipped_gradient(lib, xp):
    """The identity, with its cotangent clipped to [-1, 1] on the way back."""
    f = lib.custom_vjp(lambda x: x)
    f.defvjp(lambda x: (x, None), lambda _, g: (xp.clip(g, -1.0, 1.0),))
    return f


def test_gradient_clipping_in_the_backward_pass_nests_like_jax():
    f, jf = clipped_gradient(ad, anp), clipped_gradient(jax, jnp)
    L, jL = (lambda x: anp.sum(f(x * x) * 3.0)), (lambda x: jnp.sum(jf(x * x) * 3.0))
    x = np.array([0.2, -0.5, 1.5])
    assert_close(ad.grad(L)(x), jax.grad(jL)(x))
    assert_close(ad.grad(L)(x), 2 * x)  # the cotangent 3 is clipped to 1
    assert_close(ad.hvp(L, x, np.ones(3)), jax.jvp(jax.grad(jL), (x,), (np.ones(3),))[1])
    assert_close(ad.jacrev(ad.grad(L))(x), jax.jacrev(jax.grad(jL))(x))
    with pytest.raises(TypeError, match=r"can't apply forward-mode autodiff \(jvp\) to a custom_vjp function"):
        ad.jvp(f, (x,), (x,))
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(jf, (x,), (x,))


def newton_sqrt(lib, xp):
    """√a by a fixed number of Newton steps, differentiated by the implicit function theorem
    (z² = a gives dz = da / 2z) rather than through the steps; the step count is not
    differentiated (nondiff_argnums)."""
    def solve(steps, a):
        z = a
        for _ in range(steps):
            z = 0.5 * (z + a / z)
        return z
    f = lib.custom_vjp(solve, nondiff_argnums=(0,))
    f.defvjp(lambda steps, a: (solve(steps, a), solve(steps, a)), lambda steps, z, g: (g / (2.0 * z),))
    return f


def test_implicit_differentiation_with_a_nondifferentiable_argument():
    f, jf = newton_sqrt(ad, anp), newton_sqrt(jax, jnp)
    a = np.array([2.0, 9.0, 0.5])
    assert_close(ad.grad(lambda a: anp.sum(f(20, a)))(a), jax.grad(lambda a: jnp.sum(jf(20, a)))(a))
    assert_close(ad.grad(lambda a: anp.sum(f(20, a)))(a), 0.5 / np.sqrt(a))
    # a keyword argument is placed where it belongs
    assert_close(ad.grad(lambda a: anp.sum(f(a=a, steps=20)))(a), 0.5 / np.sqrt(a))
    with pytest.raises(TypeError, match="nondiff_argnums"):
        ad.grad(lambda s: f(s, 2.0))(3.0)


def pytree_rule(lib, xp):
    """A dict in, a pair out, the rule given per output."""
    f = lib.custom_vjp(lambda p: (p["w"] * p["b"], xp.sum(p["w"])))
    f.defvjp(lambda p: (f(p), p), lambda p, g: ({"w": g[0] * p["b"] + g[1], "b": xp.sum(g[0] * p["w"])},))
    return f


def test_pytrees_in_and_out():
    f, jf = pytree_rule(ad, anp), pytree_rule(jax, jnp)
    p = {"w": np.array([1.0, -2.0, 0.5]), "b": np.array(0.7)}
    L = lambda f, xp: (lambda p: xp.sum(xp.sin(f(p)[0])) * f(p)[1])  # noqa: E731
    ours, theirs = ad.grad(L(f, anp))(p), jax.grad(L(jf, jnp))(p)
    assert_close(ours["w"], theirs["w"])
    assert_close(ours["b"], theirs["b"])


def test_misuse_gets_the_errors_jax_gives():
    x = np.array([1.0, 2.0])
    no_rule, j_no_rule = ad.custom_jvp(anp.sin), jax.custom_jvp(jnp.sin)
    no_vjp, j_no_vjp = ad.custom_vjp(anp.sin), jax.custom_vjp(jnp.sin)
    cases = [
        (lambda: ad.jvp(no_rule, (x,), (x,)), lambda: jax.jvp(j_no_rule, (x,), (x,)), AttributeError),
        (lambda: ad.grad(lambda x: anp.sum(no_vjp(x)))(x), lambda: jax.grad(lambda x: jnp.sum(j_no_vjp(x)))(x),
         AttributeError),
    ]
    for lib, xp, store in ((ad, anp, {}), (jax, jnp, {})):
        bad_pair = lib.custom_jvp(xp.sin)
        bad_pair.defjvp(lambda p, t: xp.sin(p[0]))
        bad_shape = lib.custom_jvp(xp.sin)
        bad_shape.defjvp(lambda p, t: (xp.sin(p[0]), xp.ones(3)))
        bad_count = lib.custom_vjp(lambda a, b: a * b)
        bad_count.defvjp(lambda a, b: (a * b, (a, b)), lambda r, g: (g * r[1],))
        bad_size = lib.custom_vjp(lambda a: 2.0 * a)
        bad_size.defvjp(lambda a: (2.0 * a, None), lambda r, g: (xp.ones(3),))
        store.update(bad_pair=bad_pair, bad_shape=bad_shape, bad_count=bad_count, bad_size=bad_size)
        cases += [(lambda s=store, lib=lib: lib.jvp(s["bad_pair"], (1.0,), (1.0,)), None, TypeError),
                  (lambda s=store, lib=lib: lib.jvp(s["bad_shape"], (1.0,), (1.0,)), None, TypeError),
                  (lambda s=store, lib=lib: lib.grad(s["bad_count"])(1.0, 2.0), None, TypeError),
                  (lambda s=store, lib=lib: lib.grad(s["bad_size"])(1.0), None, ValueError)]
    for ours, theirs, error in cases:
        for call in (ours, theirs):
            if call is not None:
                with pytest.raises(error):
                    call()


def test_linear_transpose_like_jax():
    A = np.arange(6.0).reshape(2, 3)
    f = lambda x, y: (A @ x + 2.0 * y[:2], anp.sum(x) * 3.0)  # noqa: E731
    jf = lambda x, y: (A @ x + 2.0 * y[:2], jnp.sum(x) * 3.0)  # noqa: E731
    ct = (np.array([1.0, -1.0]), 2.0)
    x, y = np.ones(3), np.ones(4)
    assert_close(ad.linear_transpose(f, x, y)(ct), jax.linear_transpose(jf, x, y)(ct))
    # an affine function: its constant is ignored, as JAX does
    assert_close(ad.linear_transpose(lambda x: x + 1.0, 1.0)(2.0), jax.linear_transpose(lambda x: x + 1.0, 1.0)(2.0))
    with pytest.raises(NotImplementedError, match="Transpose rule .* for 'sin' not implemented"):
        ad.linear_transpose(anp.sin, 1.0)
    with pytest.raises(NotImplementedError, match="for 'sin' not implemented"):
        jax.linear_transpose(jnp.sin, 1.0)(1.0)
    with pytest.raises(NotImplementedError, match="multiplies two values that both depend on the inputs"):
        ad.linear_transpose(lambda x: x * x, 1.0)
    with pytest.raises(TypeError, match="cotangent type does not match function output"):
        ad.linear_transpose(lambda x: 2.0 * x, np.ones(3))(np.ones(2))
    with pytest.raises(TypeError, match="cotangent type does not match function output"):
        jax.linear_transpose(lambda x: 2.0 * x, np.ones(3))(np.ones(2))


def test_linearize_like_jax():
    f = lambda x, y: anp.sin(x) * y  # noqa: E731
    jf = lambda x, y: jnp.sin(x) * y  # noqa: E731
    out, f_jvp = ad.linearize(f, np.ones(3), 2.0)
    j_out, j_f_jvp = jax.linearize(jf, np.ones(3), 2.0)
    assert_close(out, j_out)
    assert_close(f_jvp(np.arange(3.0), 1.0), j_f_jvp(np.arange(3.0), 1.0))
    out, f_jvp, aux = ad.linearize(lambda x: (anp.sin(x), anp.cos(x)), 0.5, has_aux=True)
    assert_close(aux, np.cos(0.5))
    assert not isinstance(aux, ad.reverse.VJPTracer)
    with pytest.raises(ValueError, match="inconsistent with the original primal"):
        ad.linearize(anp.sin, np.ones(3))[1](np.ones(2))
    with pytest.raises(ValueError, match="inconsistent with the original primal"):
        jax.linearize(jnp.sin, np.ones(3))[1](np.ones(2))
    with pytest.raises(TypeError):
        ad.linearize(f, np.ones(3), 2.0)[1](np.ones(3))
    with pytest.raises(TypeError):
        jax.linearize(jf, np.ones(3), 2.0)[1](np.ones(3))


def banded(xp):
    """y_i = x_{i-1} x_i + sin x_{i+1}: a tridiagonal Jacobian."""
    return lambda x: xp.concatenate([x[:1] * 0.0, x[:-1]]) * x + xp.sin(xp.concatenate([x[1:], x[:1] * 0.0]))


def test_batched_jvp_compresses_a_tridiagonal_jacobian_into_three_sweeps():
    n = 9
    x = np.linspace(-1.0, 1.0, n)
    colours = np.arange(n) % 3  # columns i and i + 3 never share a row of a tridiagonal matrix
    seeds = np.eye(3)[colours].T  # one direction per colour: the sum of its columns
    _, compressed = ad.batched_jvp(banded(anp), (x,), (seeds,))
    J = np.zeros((n, n))
    rows = np.arange(n)
    for i in range(n):
        for j in (i - 1, i, i + 1):
            if 0 <= j < n:
                J[i, j] = compressed[colours[j], i]
    assert_close(J, jax.jacfwd(banded(jnp))(x))
    assert_close(compressed, jax.vmap(lambda s: jax.jvp(banded(jnp), (x,), (s,))[1])(seeds))
    assert rows.size == n
    with pytest.raises(ValueError, match="leading axis of directions"):
        ad.batched_jvp(banded(anp), (x,), (np.ones(n),))


def test_linearize_and_linear_transpose_nest_inside_other_transforms():
    f = lambda x: anp.sum(anp.sin(x) * x ** 2)  # noqa: E731
    jf = lambda x: jnp.sum(jnp.sin(x) * x ** 2)  # noqa: E731
    x, v = np.array([0.3, -0.8, 1.1]), np.array([1.0, 2.0, -1.0])
    # the derivative of a directional derivative computed by linearize: a Hessian-vector product
    assert_close(ad.grad(lambda x: ad.linearize(f, x)[1](v))(x),
                 jax.grad(lambda x: jax.linearize(jf, x)[1](v))(x))
    # a transpose taken inside a jvp: the matrix depends on x, the transposed map is linear in ct
    g = lambda x: ad.linear_transpose(lambda u: anp.sin(x) * u, x)(2.0 * x)[0]  # noqa: E731
    jg = lambda x: jax.linear_transpose(lambda u: jnp.sin(x) * u, x)(2.0 * x)[0]  # noqa: E731
    assert_close(ad.jvp(g, (x,), (v,)), jax.jvp(jg, (x,), (v,)))
    assert_close(ad.jacrev(g)(x), jax.jacrev(jg)(x))
