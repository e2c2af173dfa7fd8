"""The numpy a reader reaches for, against JAX to second order.

Every case is checked in four modes at once (forward, reverse, forward over reverse, reverse over
reverse) against one jitted JAX reference, on shapes drawn at random: each letter of a shape
spec is a size from 2 to 4 (shared between the arguments of a case), each digit a fixed size.
Domains put the inputs where the function is smooth, or on purpose where it is not: ties of
max/min/clip, zeros in prod, abs and sign at 0.
"""
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse as ad
import adcourse.numpy as anp
from adcourse.tree import tree_flatten, tree_unflatten
from conftest import assert_close

SPD, INVERTIBLE, POSITIVE, UNIT, TIES = "spd", "invertible", "positive", "unit", "ties"


def eigh_invariant(xp):
    """eigh up to the signs of the eigenvectors: eigenvalues, and V diag(c) Vᵀ."""
    def f(a):
        w, v = xp.linalg.eigh(a)
        return w, (v * xp.arange(1.0, v.shape[-1] + 1.0)) @ xp.swapaxes(v, -1, -2)
    return f


def both(make, shapes, domain=None):
    """A case written once for both libraries: make(xp) -> function."""
    return make(anp), make(jnp), shapes, domain


CASES = {
    # elementwise
    "exp2": both(lambda xp: xp.exp2, ["ab"]),
    "expm1": both(lambda xp: xp.expm1, ["ab"]),
    "log1p": both(lambda xp: xp.log1p, ["ab"], POSITIVE),
    "log2": both(lambda xp: xp.log2, ["a"], POSITIVE),
    "log10": both(lambda xp: xp.log10, ["a"], POSITIVE),
    "tan": both(lambda xp: xp.tan, ["ab"], UNIT),
    "sinh": both(lambda xp: xp.sinh, ["a"]),
    "cosh": both(lambda xp: xp.cosh, ["a"]),
    "arcsin": both(lambda xp: xp.arcsin, ["ab"], UNIT),
    "arccos": both(lambda xp: xp.arccos, ["ab"], UNIT),
    "arctan": both(lambda xp: xp.arctan, ["ab"]),
    "arctan2": both(lambda xp: xp.arctan2, ["ab", "b"]),
    "hypot": both(lambda xp: xp.hypot, ["a", "ba"]),
    "sign_ties": both(lambda xp: lambda x: xp.sign(x) * x * x, ["ab"], TIES),
    "abs_ties": both(lambda xp: lambda x: xp.abs(x) * x, ["ab"], TIES),
    "absolute": both(lambda xp: xp.absolute, ["ab"]),
    "fabs": both(lambda xp: xp.fabs, ["ab"]),
    "mod": both(lambda xp: lambda x, y: xp.mod(3.0 * x, y + 0.1), ["ab", "b"], POSITIVE),
    "mod_operator": both(lambda xp: lambda x, y: (x * 4.0) % y + 2.5 % y, ["a", "a"], POSITIVE),
    "clip_ties": both(lambda xp: lambda x: xp.clip(x, -1.0, 1.0), ["abc"], TIES),
    "clip_bounds": both(lambda xp: lambda x, lo, hi: xp.clip(x, lo, hi + 1.0), ["ab", "b", "ab"]),
    # reductions
    "max_ties": both(lambda xp: xp.max, ["abc"], TIES),
    "max_axis_ties": both(lambda xp: lambda x: xp.max(x, axis=1), ["abc"], TIES),
    "amax_axes_keep": both(lambda xp: lambda x: xp.amax(x, axis=(0, 2), keepdims=True), ["abc"], TIES),
    "min_axis": both(lambda xp: lambda x: xp.min(x, axis=-1), ["ab"]),
    "amin_ties": both(lambda xp: lambda x: xp.amin(x, axis=0), ["ab"], TIES),
    "prod": both(lambda xp: xp.prod, ["ab"]),
    "prod_axis": both(lambda xp: lambda x: xp.prod(x, axis=1), ["a5c"]),
    "prod_zeros_keep": both(lambda xp: lambda x: xp.prod(x, axis=(0, 2), keepdims=True), ["ab3"], TIES),
    "cumsum": both(lambda xp: xp.cumsum, ["ab"]),
    "cumsum_axis": both(lambda xp: lambda x: xp.cumsum(x, axis=-2) ** 2, ["abc"]),
    "std": both(lambda xp: xp.std, ["ab"]),
    "std_ddof_axis": both(lambda xp: lambda x: xp.std(x, axis=0, ddof=1, keepdims=True), ["ab"]),
    "var_axes": both(lambda xp: lambda x: xp.var(x, axis=(1, 2)), ["abc"]),
    # contractions
    "einsum_matmul": both(lambda xp: lambda a, b: xp.einsum("ij,jk->ik", a, b), ["ab", "bc"]),
    "einsum_trace": both(lambda xp: lambda a: xp.einsum("ii->", a) * a, ["aa"]),
    "einsum_diagonal": both(lambda xp: lambda a: xp.einsum("ii->i", a), ["aa"]),
    "einsum_summed_away": both(lambda xp: lambda a, b: xp.einsum("ij,k->i", a, b), ["ab", "c"]),
    "einsum_batched": both(lambda xp: lambda a, b: xp.einsum("bij,bjk->bik", a, b), ["dab", "dbc"]),
    "einsum_ellipsis": both(lambda xp: lambda a, b: xp.einsum("...ij,jk->...ik", a, b), ["dab", "bc"]),
    "einsum_implicit": both(lambda xp: lambda a, b: xp.einsum("kj,ji", a, b), ["ab", "bc"]),
    "einsum_three": both(lambda xp: lambda a, b, c: xp.einsum("ij,jk,kl->li", a, b, c), ["ab", "bc", "cd"]),
    "einsum_outer_permute": both(lambda xp: lambda a, b: xp.einsum("i,jk->kij", a, b), ["a", "bc"]),
    "tensordot": both(lambda xp: xp.tensordot, ["abc", "bcd"]),
    "tensordot_1": both(lambda xp: lambda a, b: xp.tensordot(a, b, axes=1), ["ab", "bc"]),
    "tensordot_pairs": both(lambda xp: lambda a, b: xp.tensordot(a, b, axes=([1, 0], [0, 2])),
                            ["abc", "bda"]),
    "tensordot_0": both(lambda xp: lambda a, b: xp.tensordot(a, b, axes=0), ["a", "b"]),
    # shapes and indexing
    "tril": both(lambda xp: xp.tril, ["ab"]),
    "triu_k_batched": both(lambda xp: lambda x: xp.triu(x, 1), ["cab"]),
    "tril_negative_k": both(lambda xp: lambda x: xp.tril(x, -1), ["aa"]),
    "diag_vector": both(lambda xp: xp.diag, ["a"]),
    "diag_vector_k": both(lambda xp: lambda v: xp.diag(v, -1), ["a"]),
    "diag_matrix_k": both(lambda xp: lambda x: xp.diag(x, 1), ["ab"]),
    "diagonal_axes": both(lambda xp: lambda x: xp.diagonal(x, -1, 2, 0), ["abc"]),
    "trace": both(lambda xp: xp.trace, ["ab"]),
    "trace_axes": both(lambda xp: lambda x: xp.trace(x, 1, axis1=1, axis2=2), ["abc"]),
    "repeat": both(lambda xp: lambda x: xp.repeat(x, 2), ["ab"]),
    "repeat_axis": both(lambda xp: lambda x: xp.repeat(x, np.array([2, 0, 1]), axis=1), ["a3"]),
    "tile": both(lambda xp: lambda x: xp.tile(x, 2), ["ab"]),
    "tile_more_axes": both(lambda xp: lambda x: xp.tile(x, (2, 1, 3)), ["ab"]),
    "roll": both(lambda xp: lambda x: xp.roll(x, 2), ["ab"]),
    "roll_axes": both(lambda xp: lambda x: xp.roll(x, (1, -4), axis=(0, 1)), ["ab"]),
    "flip": both(lambda xp: xp.flip, ["abc"]),
    "flip_axis": both(lambda xp: lambda x: xp.flip(x, 1), ["ab"]),
    "squeeze": both(lambda xp: xp.squeeze, ["a1b1"]),
    "squeeze_axis": both(lambda xp: lambda x: xp.squeeze(x, 1), ["a1b"]),
    "expand_dims": both(lambda xp: lambda x: xp.expand_dims(x, (0, 2)), ["ab"]),
    "split": both(lambda xp: lambda x: xp.split(x, 2, axis=1), ["a4"]),
    "split_indices": both(lambda xp: lambda x: xp.split(x, [1, 3]), ["5a"]),
    "array_split": both(lambda xp: lambda x: xp.array_split(x, 3, axis=-1), ["a5"]),
    "vstack": both(lambda xp: lambda x, y, z: xp.vstack([x, y, z]), ["b", "ab", "b"]),
    "hstack": both(lambda xp: lambda x, y: xp.hstack([x, y]), ["ab", "ac"]),
    "hstack_vectors": both(lambda xp: lambda x, y: xp.hstack([x, y, 2.0]), ["a", "b"]),
    "append": both(lambda xp: xp.append, ["ab", "c"]),
    "append_axis": both(lambda xp: lambda x, y: xp.append(x, y, axis=0), ["ab", "cb"]),
    "array_of_traced_values": both(lambda xp: lambda x, y: xp.array([[x, 2.0 * y], [y, 1.0]]), ["", ""]),
    "array_of_rows": both(lambda xp: lambda x: xp.array([x[0] * x[1], x[1], x[0]]), ["ab"]),
    # array methods
    "methods": both(lambda xp: lambda x: x.sum(axis=1) * x.mean() + x.T.reshape(-1)[:2].sum()
                    + x.flatten()[0] + x.reshape(1, *x.shape).squeeze().max(), ["ab"]),
    "more_methods": both(lambda xp: lambda x: x.prod(axis=0) + x.std() + x.clip(-1.0, 1.0).cumsum(0)[-1]
                         + x.astype(np.float32).astype(np.float64).var(axis=0), ["ab"]),
    # numpy.linalg
    "norm": both(lambda xp: xp.linalg.norm, ["abc"]),
    "norm_vector_ords": both(lambda xp: lambda x: xp.stack([xp.linalg.norm(x, o) for o in
                                                            (1, 2, 3, np.inf, -np.inf, 0.5)]), ["a"]),
    "norm_inf_ties": both(lambda xp: lambda x: xp.linalg.norm(x, np.inf, axis=1), ["ab"], TIES),
    "norm_axis_keepdims": both(lambda xp: lambda x: xp.linalg.norm(x, axis=-1, keepdims=True), ["ab"]),
    "norm_matrix_ords": both(lambda xp: lambda x: xp.stack([xp.linalg.norm(x, o) for o in
                                                            ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)]),
                             ["ab"]),
    "norm_matrix_axes": both(lambda xp: lambda x: xp.linalg.norm(x, "nuc", axis=(2, 0), keepdims=True),
                             ["abc"]),
    "solve_vector": both(lambda xp: xp.linalg.solve, ["aa", "a"], INVERTIBLE),
    "solve_matrix": both(lambda xp: xp.linalg.solve, ["aa", "ab"], INVERTIBLE),
    "solve_batched": both(lambda xp: xp.linalg.solve, ["caa", "cab"], INVERTIBLE),
    "solve_batched_vector": both(lambda xp: xp.linalg.solve, ["caa", "a"], INVERTIBLE),
    "inv": both(lambda xp: xp.linalg.inv, ["aa"], INVERTIBLE),
    "inv_batched": both(lambda xp: xp.linalg.inv, ["baa"], INVERTIBLE),
    "det": both(lambda xp: xp.linalg.det, ["aa"], INVERTIBLE),
    "det_batched": both(lambda xp: xp.linalg.det, ["baa"], INVERTIBLE),
    "slogdet": both(lambda xp: xp.linalg.slogdet, ["baa"], INVERTIBLE),
    "cholesky": both(lambda xp: xp.linalg.cholesky, ["aa"], SPD),
    "cholesky_batched": both(lambda xp: xp.linalg.cholesky, ["baa"], SPD),
    "eigh": both(eigh_invariant, ["aa"], SPD),
    "eigh_batched": both(eigh_invariant, ["baa"], SPD),
    "eigvalsh": both(lambda xp: xp.linalg.eigvalsh, ["aa"], SPD),
}


def draw_shapes(specs, rng):
    sizes = {}
    return [tuple(int(c) if c.isdigit() else sizes.setdefault(c, int(rng.integers(2, 5))) for c in spec)
            for spec in specs]


def draw(rng, shape, domain):
    x = rng.normal(size=shape)
    if domain == POSITIVE:
        return np.abs(x) + 0.5
    if domain == UNIT:
        return rng.uniform(-0.9, 0.9, size=shape)
    if domain == TIES:  # few distinct values: ties, zeros, and values on the bounds of clip
        return rng.integers(-2, 3, size=shape).astype(float)
    if domain == INVERTIBLE and len(shape) >= 2 and shape[-1] == shape[-2]:
        return x + 2 * shape[-1] * np.eye(shape[-1])
    if domain == SPD and len(shape) >= 2:
        return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])
    return x


def like(tree, rng):
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [rng.normal(size=np.shape(leaf)) for leaf in leaves])


def ours_in_four_modes(fun, xs, ts, ct, ct2):
    out, tangent = ad.jvp(fun, xs, ts)
    cotangent = ad.vjp(fun, *xs)[1](ct)

    def pulled(*x):  # x ↦ ctᵀ ∂f(x): its jvp and vjp are second derivatives
        return ad.vjp(fun, *x)[1](ct)

    return out, tangent, cotangent, ad.jvp(pulled, xs, ts)[1], ad.vjp(pulled, *xs)[1](ct2)


def jax_in_four_modes(fun, xs, ts, ct_leaves, ct2):
    out_def = jax.tree.structure(jax.eval_shape(fun, *xs))

    @jax.jit
    def reference(xs, ts, ct_leaves, ct2):
        ct = jax.tree.unflatten(out_def, ct_leaves)
        out, tangent = jax.jvp(fun, xs, ts)
        pulled = lambda *x: jax.vjp(fun, *x)[1](ct)  # noqa: E731
        return (out, tangent, jax.vjp(fun, *xs)[1](ct), jax.jvp(pulled, xs, ts)[1],
                jax.vjp(pulled, *xs)[1](ct2))

    return reference(xs, ts, ct_leaves, ct2)


def flat(tree):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


@pytest.mark.parametrize("name", CASES)
def test_four_modes_match_jax(name):
    fun, jfun, specs, domain = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    shapes = draw_shapes(specs, rng)
    xs = tuple(draw(rng, s, domain) for s in shapes)
    ts = tuple(rng.normal(size=s) for s in shapes)
    out = fun(*xs)
    ct, ct2 = like(out, rng), tuple(rng.normal(size=s) for s in shapes)
    ours = ours_in_four_modes(fun, xs, ts, ct, ct2)
    theirs = jax_in_four_modes(jfun, xs, ts, tree_flatten(ct)[0], ct2)
    rtol = 1e-8 if domain in (SPD, INVERTIBLE) or name.startswith("norm_matrix") else 1e-10
    for mode, a, b in zip(["value", "jvp", "vjp", "jvp of vjp", "vjp of vjp"], ours, theirs):
        a, b = flat(a), flat(b)
        assert len(a) == len(b), mode
        for x, y in zip(a, b):
            assert x.shape == y.shape, (mode, x.shape, y.shape)
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-11, err_msg=mode)


def test_array_of_traced_values_as_in_jax():
    g = ad.grad(lambda x, y: anp.sum(anp.array([x, y, 2.0]) ** 2), (0, 1))(1.0, 2.0)
    assert_close(g, jax.grad(lambda x, y: jnp.sum(jnp.array([x, y, 2.0]) ** 2), (0, 1))(1.0, 2.0))


def test_astype_to_an_integer_type_cuts_the_derivative_as_in_jax():
    x = np.array([1.5, 2.5])
    assert_close(ad.grad(lambda x: anp.sum(x.astype(int) * x))(x),
                 jax.grad(lambda x: jnp.sum(x.astype(int) * x))(x))


def test_errors_like_numpy():
    with pytest.raises(ValueError, match="equal division"):
        ad.jvp(lambda x: anp.split(x, 2)[0], (np.ones(3),), (np.ones(3),))
    with pytest.raises(ValueError, match="1- or 2-d"):
        anp.diag(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="Invalid norm order 'fro' for vectors"):
        anp.linalg.norm(np.ones(3), "fro")
    with pytest.raises(TypeError, match="subscripts as a string"):
        anp.einsum(np.ones(2), [0])
