"""The transforms a user calls, each a few lines on top of ``jvp`` (forward.py) and ``vjp`` or the tape
(reverse.py).

Names, signatures and results follow JAX, so that habits carry straight over.
"""
import numpy as np

from . import numpy as anp
from .core import concrete, shape_of
from .forward import jvp
from .reverse import ancestors, forward_sweep, record, vjp
from .tree import tree_flatten, tree_unflatten


def _positions(argnums, nargs, who):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{who}: argnums={argnums!r} does not name an argument of a function "
                             f"called with {nargs} argument(s)")
    return nums if min(nums) >= 0 else tuple(i % nargs for i in nums)


def _with_args(fun, args, nums):
    """(fun as a function of the arguments at positions ``nums`` only, the others fixed; those
    arguments)."""
    if nums == tuple(range(len(args))):
        return fun, args

    def partial(*chosen):
        full = list(args)
        for i, x in zip(nums, chosen):
            full[i] = x
        return fun(*full)
    return partial, tuple(args[i] for i in nums)


def value_and_grad(fun, argnums=0):
    """x ↦ (f(x), ∇f(x)) for a scalar f: one forward sweep, one backward sweep."""
    def value_and_grad_fun(*args):
        nums = _positions(argnums, len(args), "grad")
        value, pullback, _ = record(*_with_args(fun, args, nums), "grad")
        if type(value) is not np.float64:  # (the common case needs no checks)
            _check_real_scalar(fun, value)
        grads = pullback(_one_like(value), release=True)  # ∂L/∂L = 1, in one sweep that frees as it goes
        return value, grads[0] if isinstance(argnums, int) else grads
    return value_and_grad_fun


def _check_real_scalar(fun, value):
    if np.iscomplexobj(concrete(value)):
        raise TypeError(
            f"grad needs a real-valued output, but {getattr(fun, '__name__', 'the function')} "
            f"returned a complex number. Differentiate a real quantity of it instead (its "
            f"absolute value squared, or its real part), or use vjp with a cotangent of your own.")
    if shape_of(value) != ():
        raise TypeError(
            f"grad needs a function with a scalar output, but {getattr(fun, '__name__', 'it')} "
            f"returned an array of shape {np.shape(value)}. For a vector output take the whole "
            f"Jacobian with jacrev or jacfwd, or one vector-Jacobian product with vjp.")


def _one_like(value):
    """1 in value's precision (a float32 loss gets float32 gradients, as in JAX)."""
    if type(value) is np.float64:
        return np.float64(1.0)
    value = concrete(value)
    dtype = np.asarray(value).dtype
    return np.ones((), dtype if dtype.kind == "f" else np.float64)[()]


def grad(fun, argnums=0):
    """x ↦ ∇f(x) = (∂f/∂x_1, …, ∂f/∂x_n) for a scalar f, by reverse mode."""
    value_and_grad_fun = value_and_grad(fun, argnums)
    return lambda *args: value_and_grad_fun(*args)[1]


def _basis(x):
    """The unit arrays e_k shaped like x, k = 1..x.size."""
    return [np.eye(1, np.size(x), k).reshape(np.shape(x)) for k in range(np.size(x))]


def jacfwd(fun, argnums=0):
    """x ↦ J = ∂f/∂x, column by column: one forward sweep (jvp) per input coordinate."""
    def jac_fun(*args):
        nums = _positions(argnums, len(args), "jacfwd")
        per_arg = []  # per argument: {output leaf k: its Jacobian block}
        for i in nums:
            f_i = _with_args(fun, args, (i,))[0]
            sweeps = [jvp(f_i, (args[i],), (e,)) for e in _basis(args[i])]
            out, out_def = tree_flatten(sweeps[0][0])
            columns = [tree_flatten(tangent)[0] for _, tangent in sweeps]
            per_arg.append([anp.reshape(anp.stack([c[k] for c in columns], axis=-1),
                                        np.shape(o) + np.shape(args[i])) for k, o in enumerate(out)])
        return _arrange(per_arg, out_def, argnums)
    return jac_fun


def jacrev(fun, argnums=0):
    """x ↦ J = ∂f/∂x, row by row: one forward sweep, then one backward sweep (vjp) per output."""
    def jac_fun(*args):
        nums = _positions(argnums, len(args), "jacrev")
        fun_of_chosen, chosen = _with_args(fun, args, nums)
        out, pullback = vjp(fun_of_chosen, *chosen)
        out_leaves, out_def = tree_flatten(out)
        rows = []  # rows[k][j]: Jacobian block of output leaf k with respect to argument j
        for k, o in enumerate(out_leaves):
            cotangents = [np.zeros(np.shape(leaf)) for leaf in out_leaves]
            grads_per_e = []
            for e in _basis(o):
                cotangents[k] = e
                grads_per_e.append(pullback(tree_unflatten(out_def, cotangents)))
            rows.append([anp.reshape(anp.stack([g[j] for g in grads_per_e]),
                                     np.shape(o) + np.shape(args[i])) for j, i in enumerate(nums)])
        per_arg = [[rows[k][j] for k in range(len(out_leaves))] for j in range(len(nums))]
        return _arrange(per_arg, out_def, argnums)
    return jac_fun


def _arrange(per_arg, out_def, argnums):
    """JAX's layout: the output's structure, each leaf holding one block (or a tuple per argnum)."""
    if isinstance(argnums, int):
        return tree_unflatten(out_def, per_arg[0])
    return tree_unflatten(out_def, [tuple(blocks) for blocks in zip(*per_arg)])


def hessian(fun, argnums=0):
    """x ↦ ∇²f(x), as the forward-mode Jacobian of the reverse-mode gradient."""
    return jacfwd(jacrev(fun, argnums), argnums)


def hvp(fun, x, v):
    """∇²f(x)·v = ∂/∂ε ∇f(x + εv) at ε = 0: forward mode over reverse mode.

    Costs a small multiple of one gradient and never forms the Hessian (the lecture's
    ∇²f(x)v = ∇[x ↦ ∇f(x)ᵀv], here with the outer ∇ done in forward mode).
    """
    return jvp(grad(fun), (x,), (v,))[1]


# --- reverse mode as the transpose of the linearized function (Autodidax) -------------------------

def linearize(fun, *primals, has_aux=False):
    """(f(x), f_jvp) with f_jvp(*t) = ∂f(x)·t, like ``jax.linearize``: f is evaluated once, on a
    tape that keeps every value, and each call of f_jvp sweeps that tape forwards (the tangent
    rules only: f_jvp is linear). With ``has_aux``, fun returns (out, aux): (out, f_jvp, aux)."""
    aux = []

    def main(*args):
        if not has_aux:
            return fun(*args)
        out, extra = fun(*args)
        aux.append(extra)
        return out

    out, _, tape = record(main, primals, "linearize", keep_all=True)
    x_leaves, x_def = tree_flatten(tuple(primals))
    out_def = tree_flatten(out)[1]

    def f_jvp(*tangents):
        t_leaves, t_def = tree_flatten(tuple(tangents))
        if t_def != x_def:
            raise TypeError(f"linearize: the tangents {t_def} are not structured like the primals {x_def}")
        for t, x in zip(t_leaves, x_leaves):
            if np.shape(t) != np.shape(x):
                raise ValueError(f"linearized function called on tangent values inconsistent with the "
                                 f"original primal values: got a tangent of shape {np.shape(t)} for a "
                                 f"primal of shape {np.shape(x)}")
        tangent = forward_sweep(tape, t_leaves)
        return tree_unflatten(out_def, [np.zeros(shape_of(leaf)) if node is None else tangent[node.index]
                                        for node, leaf in zip(tape.outputs, tree_flatten(out)[0])])

    if has_aux:
        return out, f_jvp, tree_unflatten(*_values_of(aux[0], tape))
    return out, f_jvp


def _values_of(tree, tape):
    """(treedef, leaves) of ``tree`` with the recorded tape's traced values replaced by their values."""
    leaves, treedef = tree_flatten(tree)
    nodes = {id(node) for node in tape.nodes}
    return treedef, [leaf.primal if id(getattr(leaf, "node", None)) in nodes else leaf for leaf in leaves]


def linear_transpose(fun, *primals, reduce_axes=()):
    """The transpose of a linear function, like ``jax.linear_transpose``: ``f_t(ct)`` returns
    the tuple of cotangents of fun's arguments. ``primals`` give the arguments' shapes (arrays,
    or anything with .shape and .dtype); fun is recorded once on zeros of those shapes, and must be
    linear: every operation on its arguments linear in them (see Primitive.linear). The VJP rules
    of linear operations are their transposes, so the backward sweep of that tape is the transpose."""
    x_leaves, x_def = tree_flatten(tuple(primals))
    zeros = [np.zeros(np.shape(x), getattr(x, "dtype", None) or np.float64) for x in x_leaves]
    out, pullback, tape = record(fun, tree_unflatten(x_def, zeros), "linear_transpose")
    for node in (tape.nodes[i] for i in sorted(ancestors(tape, [n for n in tape.outputs if n is not None]))):
        _check_linear(fun, node)
    out_leaves, out_def = tree_flatten(out)

    def transposed(cotangent):
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != out_def or any(np.shape(c) != np.shape(o) for c, o in zip(ct_leaves, out_leaves)):
            raise TypeError(f"cotangent type does not match function output, expected "
                            f"{[np.shape(o) for o in out_leaves]} structured as {out_def} but got "
                            f"{[np.shape(c) for c in ct_leaves]} structured as {ct_def}")
        return pullback(cotangent)

    return transposed


def _check_linear(fun, node):
    """Raise unless the node's primitive is linear in the arguments that depend on the inputs."""
    traced = {argnum for argnum, _ in node.parents}
    linear = node.prim.linear if node.prim is not None else "args"
    if not traced or linear == "args" or (linear == "each" and len(traced) == 1) or \
            (isinstance(linear, tuple) and traced <= set(linear)):
        return
    why = ("it multiplies two values that both depend on the inputs" if linear == "each"
           else "it is not linear in them")
    raise NotImplementedError(
        f"linear_transpose: {getattr(fun, '__name__', getattr(fun, 'name', fun))} is not linear in its inputs: "
        f"{node.prim.name} is applied to values that depend on them, and {why}. Transpose rule (for "
        f"reverse-mode differentiation) for '{node.prim.name}' not implemented")
