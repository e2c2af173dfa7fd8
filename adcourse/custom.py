"""Custom derivative rules, with JAX's names and semantics: custom_jvp and custom_vjp.

A function written with adcourse.numpy is differentiated through its operations. Sometimes its
derivative should be computed otherwise: by a formula that does not overflow where the operations
do, with the gradient clipped on its way back, or by the implicit function theorem instead of
through the iterations of a solver. Then

    f = custom_jvp(f); f.defjvp(rule)      rule(primals, tangents) -> (f(*primals), ∂f · tangents)
    f = custom_vjp(f); f.defvjp(fwd, bwd)  fwd(*args) -> (f(*args), residuals),
                                           bwd(residuals, ḡ) -> one cotangent per argument

and the transforms use the rule instead of f's operations: forward mode calls the JVP rule,
reverse mode transposes it (custom_jvp) or calls bwd (custom_vjp, which has no JVP rule, so
forward mode refuses it, as JAX does). The rules are written with adcourse.numpy, so a transform of
higher order differentiates them in turn. Arguments at ``nondiff_argnums`` (a function, a
tolerance) are never differentiated: the rules get them first.

What a transform does with such a call is its trace's ``process_custom_jvp`` or
``process_custom_vjp`` (forward.py, reverse.py); this module holds the calls themselves, and the
checks of what the rules return.
"""
import functools
import inspect

import numpy as np

from .core import Tracer, concrete
from .tree import tree_flatten, tree_unflatten


def _type(x):
    """An array's type as JAX writes it: float64[3,2]."""
    return f"{np.asarray(concrete(x)).dtype}[{','.join(map(str, np.shape(x)))}]"


def _name(f):
    return getattr(f, "__name__", repr(f))


class _CustomCall:
    """A function with rules of its own; ``diff`` are its arguments outside ``nondiff_argnums``."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun, updated=())  # fun's name and docstring, not its attributes
        self.__name__ = getattr(fun, "__name__", getattr(fun, "name", type(fun).__name__))
        self.fun, self.nondiff_argnums = fun, tuple(nondiff_argnums)

    def __call__(self, *args, **kwargs):
        if kwargs:
            args = tuple(inspect.signature(self.fun).bind(*args, **kwargs).args)
        diff, nondiff = self.split(args)
        if any(isinstance(leaf, Tracer) for leaf in tree_flatten(nondiff)[0]):
            raise TypeError(f"{type(self).__name__} function {self.__name__}: an argument at nondiff_argnums="
                            f"{self.nondiff_argnums} is a traced value; pass it as a differentiable "
                            f"argument instead (nondiff_argnums are for functions, sizes, tolerances)")
        top = None
        for leaf in tree_flatten(diff)[0]:
            if isinstance(leaf, Tracer) and (top is None or leaf.trace.level > top.trace.level):
                top = leaf
        if top is None:  # no transform watches the arguments
            return self.fun(*args)
        return self._process(top.trace, args)

    def split(self, args):
        """(the differentiable arguments, the others in the order of nondiff_argnums)."""
        positions = [i % len(args) for i in self.nondiff_argnums]
        return (tuple(a for i, a in enumerate(args) if i not in positions),
                tuple(args[i] for i in positions))

    def join(self, diff, nondiff):
        """The inverse of split: all the arguments in their places."""
        n = len(diff) + len(nondiff)
        placed = dict(zip((i % n for i in self.nondiff_argnums), nondiff))
        rest = iter(diff)
        return tuple(placed[i] if i in placed else next(rest) for i in range(n))


class custom_jvp(_CustomCall):
    """fun with a forward-mode rule of its own (``defjvp``), which reverse mode transposes.

    As ``jax.custom_jvp``: ``rule(*nondiff_args, primals, tangents)`` returns ``(out, tangent_out)``
    with primals and tangents tuples of the differentiable arguments; the rule must be linear in
    the tangents.
    """

    jvp = None

    def defjvp(self, jvp, symbolic_zeros=False):
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps):
        """One rule per differentiable argument: jvps[i](t_i, ans, *primals) is the output tangent
        caused by t_i (None: the output does not depend on argument i); the tangents add up."""
        def jvp(*nondiff_primals_tangents):
            *nondiff, primals, tangents = nondiff_primals_tangents
            ans = self.fun(*self.join(primals, nondiff))
            total = None
            for rule, t in zip(jvps, tangents):
                if rule is not None:
                    leaves, treedef = tree_flatten(rule(t, ans, *primals))
                    total = leaves if total is None else [a + b for a, b in zip(total, leaves)]
            ans_leaves, ans_def = tree_flatten(ans)
            return ans, tree_unflatten(ans_def, total or [np.zeros(np.shape(a)) for a in ans_leaves])
        return self.defjvp(jvp)

    def _process(self, trace, args):
        return trace.process_custom_jvp(self, args)

    def rule(self, nondiff, primals, tangents):
        """(out, tangent_out) from the JVP rule, checked as JAX checks them."""
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {self.__name__} using defjvp.")
        pair = self.jvp(*nondiff, tuple(primals), tuple(tangents))
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"Custom JVP rule {_name(self.jvp)} for function {self.__name__} must produce a "
                            f"pair (list or tuple of length two) representing primal and tangent outputs, "
                            f"but got {pair!r}.")
        out, tangent = pair
        out_leaves, out_def = tree_flatten(out)
        tangent_leaves, tangent_def = tree_flatten(tangent)
        if out_def != tangent_def:
            raise TypeError(f"Custom JVP rule must produce primal and tangent outputs with equal container "
                            f"(pytree) structures, but got {out_def} and {tangent_def} respectively.")
        for o, t in zip(out_leaves, tangent_leaves):
            if np.shape(o) != np.shape(t):
                raise TypeError(f"Custom JVP rule must produce primal and tangent outputs with corresponding "
                                f"shapes and dtypes. Expected {_type(o)} (tangent type of {_type(o)}) but got "
                                f"{_type(t)}.")
        return out, tangent


class custom_vjp(_CustomCall):
    """fun with a reverse-mode rule of its own (``defvjp``); forward mode has none.

    As ``jax.custom_vjp``: ``fwd(*args)`` returns ``(out, residuals)``, and
    ``bwd(*nondiff_args, residuals, ḡ)`` a tuple with one cotangent per differentiable argument
    (None for a zero one).
    """

    fwd = bwd = None

    def defvjp(self, fwd, bwd, symbolic_zeros=False, optimize_remat=False):
        self.fwd, self.bwd = fwd, bwd

    def _process(self, trace, args):
        return trace.process_custom_vjp(self, args)

    def forward(self, args):
        """(out, residuals) from fwd."""
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {self.__name__} using defvjp.")
        pair = self.fwd(*args)
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"Custom VJP fwd rule {_name(self.fwd)} for function {self.__name__} must produce "
                            f"a pair (list or tuple of length two) where the first element represents the "
                            f"primal output (equal to the output of the custom_vjp-decorated function "
                            f"{self.__name__}) and the second element represents residuals (i.e. values "
                            f"stored from the forward pass for use on the backward pass), but instead the "
                            f"fwd rule output's type was {type(pair)}.")
        return pair

    def backward(self, nondiff, residuals, cotangent, primals):
        """bwd's cotangents of the differentiable arguments ``primals``, None made zeros, checked."""
        cotangents = self.bwd(*nondiff, residuals, cotangent)
        primals_def = tree_flatten(tuple(primals))[1]
        if not isinstance(cotangents, (tuple, list)) or len(cotangents) != len(primals):
            raise TypeError(f"Custom VJP bwd rule must produce an output with the same container (pytree) "
                            f"structure as the args tuple of the primal function, and in particular must "
                            f"produce a tuple of length equal to the number of arguments to the primal "
                            f"function, but got bwd output structure {tree_flatten(cotangents)[1]} for "
                            f"primal input structure {primals_def}.")
        checked = []
        for k, (ct, x) in enumerate(zip(cotangents, primals)):
            x_leaves, x_def = tree_flatten(x)
            if ct is None:
                checked.append(tree_unflatten(x_def, [np.zeros(np.shape(leaf)) for leaf in x_leaves]))
                continue
            ct_leaves, ct_def = tree_flatten(ct)
            if ct_def != x_def:
                raise TypeError(f"Custom VJP bwd rule must produce an output with the same container (pytree) "
                                f"structure as the args tuple of the primal function, but at output[{k}] got "
                                f"{ct_def} for {x_def}.")
            for c, leaf in zip(ct_leaves, x_leaves):
                if c is not None and np.shape(c) != np.shape(leaf):
                    raise ValueError(f"Custom VJP bwd rule must produce an output with the same type as the "
                                     f"args tuple of the primal function, but at output[{k}] the bwd rule "
                                     f"produced an output of type {_type(c)} corresponding to an input of type "
                                     f"{_type(leaf)}, so the shapes do not match")
            checked.append(tree_unflatten(x_def, [np.zeros(np.shape(leaf)) if c is None else c
                                                  for c, leaf in zip(ct_leaves, x_leaves)]))
        return tuple(checked)
