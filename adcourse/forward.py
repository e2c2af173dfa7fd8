"""Forward mode: every value carries its tangent along.

For the input direction t, each intermediate v_i carries v̇_i = Σ_j ∂v_i/∂x_j · ẋ_j,
summed over its arguments x_j. One sweep gives ∂f(x)·t, the derivative along t,
and nothing has to be stored: each tangent is needed only until its children are done.
``batched_jvp`` carries k tangents through one sweep: the values are computed once.
"""
import numpy as np

from .core import Trace, Tracer, check_input
from .numpy import broadcast_to, stack
from .tree import tree_flatten, tree_unflatten


class JVPTracer(Tracer):
    """A value v watched by forward mode, with its tangent v̇ (a list of k of them when batched)."""

    __slots__ = ("tangent",)

    def __init__(self, trace, primal, tangent):
        self.trace, self.primal, self.tangent = trace, primal, tangent


def push_tangent(prim, ans, primals, params, tangents):
    """v̇ = Σ_j ∂v/∂x_j · ẋ_j: the output tangent of one primitive from its arguments' tangents.

    ``tangents[j]`` is None for an argument that carries none. The lecture's forward step; the
    forward-mode table of graph.py and linearize take it node by node too.
    """
    tangent = None
    for i, t in enumerate(tangents):
        if t is not None and prim.jvp[i] is not None:
            contribution = prim.jvp[i](t, ans, *primals, **params)
            tangent = contribution if tangent is None else tangent + contribution
    if tangent is None:
        return np.zeros(np.shape(ans))
    if np.shape(tangent) != np.shape(ans):  # an argument was broadcast up to the output
        return broadcast_to(tangent, np.shape(ans))
    return tangent


class JVPTrace(Trace):
    def __init__(self, batch=None):
        super().__init__()
        self.batch = batch  # None: one tangent per value; k: a list of k tangents per value

    def unwrap(self, values):
        """(primals, tangents) of ``values``: one level down, and None for those it does not watch."""
        mine = [isinstance(v, JVPTracer) and v.trace is self for v in values]
        return ([v.primal if m else v for v, m in zip(values, mine)],
                [v.tangent if m else None for v, m in zip(values, mine)])

    def sweeps(self, tangents):
        """The tangents of each of the k sweeps carried at once (one sweep when not batched)."""
        if self.batch is None:
            return [tangents]
        return [[None if t is None else t[j] for t in tangents] for j in range(self.batch)]

    def join(self, tangent_per_sweep):
        return tangent_per_sweep[0] if self.batch is None else tangent_per_sweep

    def process(self, prim, args, params):
        primals, tangents = self.unwrap(args)
        ans = prim(*primals, **params)
        if self.batch is None:
            return JVPTracer(self, ans, push_tangent(prim, ans, primals, params, tangents))
        return JVPTracer(self, ans, [push_tangent(prim, ans, primals, params, ts) for ts in self.sweeps(tangents)])

    def process_custom_jvp(self, call, args):
        """The rule's own tangent, its code running one level down, as JAX does."""
        diff, nondiff = call.split(args)
        leaves, treedef = tree_flatten(diff)
        primals, tangents = self.unwrap(leaves)
        sweeps = []
        for ts in self.sweeps(tangents):
            ts = [np.zeros(np.shape(x)) if t is None else t for x, t in zip(primals, ts)]
            out, tangent = call.rule(nondiff, tree_unflatten(treedef, primals), tree_unflatten(treedef, ts))
            sweeps.append(tree_flatten(tangent)[0])
        out_leaves, out_def = tree_flatten(out)
        return tree_unflatten(out_def, [JVPTracer(self, o, self.join([s[k] for s in sweeps]))
                                        for k, o in enumerate(out_leaves)])

    def process_custom_vjp(self, call, args):
        raise TypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function.")


def jvp(fun, primals, tangents):
    """(f(x), ∂f(x)·t): the value and the derivative of ``fun`` at ``primals`` along ``tangents``.

    Like ``jax.jvp``: ``primals`` and ``tangents`` are tuples with one entry per argument
    (each a float array or a tuple/list/dict of them), and the tangents match their primals' shapes.
    """
    return _sweep(fun, primals, tangents, None, "jvp")


def batched_jvp(fun, primals, tangents):
    """(f(x), [∂f(x)·t_1, …, ∂f(x)·t_k]) in one forward sweep: f is evaluated once, and every
    value carries k tangents. Each tangent leaf has a leading axis of k directions (its primal's
    shape after it); so has each output tangent. Compressing a sparse Jacobian by a colouring of
    its columns takes one sweep with a direction per colour.
    """
    t_leaves = tree_flatten(tuple(tangents))[0] if isinstance(tangents, (tuple, list)) else [tangents]
    k = {np.shape(t)[0] if np.ndim(t) else None for t in t_leaves}
    if len(k) != 1 or None in k:
        raise ValueError(f"batched_jvp: every tangent needs the same leading axis of directions, got shapes "
                         f"{[np.shape(t) for t in t_leaves]}")
    return _sweep(fun, primals, tangents, k.pop(), "batched_jvp")


def _sweep(fun, primals, tangents, batch, who):
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{who} takes primals and tangents as tuples, one entry per argument: "
                        f"{who}(f, (x,), (t,))")
    x_leaves, x_def = tree_flatten(tuple(primals))
    t_leaves, t_def = tree_flatten(tuple(tangents))
    if x_def != t_def:
        raise ValueError(f"{who}: the tangents {t_def} are not structured like the primals {x_def}")
    trace = JVPTrace(batch)
    inputs = []
    for i, (x, t) in enumerate(zip(x_leaves, t_leaves)):
        x = check_input(x, who, i)
        t = check_input(t, f"{who} (tangent)", i)
        expected = np.shape(x) if batch is None else (batch,) + np.shape(x)
        if np.shape(t) != expected:
            raise ValueError(f"{who}: tangent {i} has shape {np.shape(t)} but its primal has shape "
                             f"{np.shape(x)}; each tangent must have " +
                             ("its primal's shape" if batch is None else "a leading axis of directions, "
                              f"then its primal's shape: {expected}"))
        inputs.append(JVPTracer(trace, x, t if batch is None else list(t)))
    out = fun(*tree_unflatten(x_def, inputs))
    out_leaves, out_def = tree_flatten(out)
    values, tangents_out = [], []
    for o in out_leaves:
        if isinstance(o, JVPTracer) and o.trace is trace:
            values.append(o.primal)
            tangents_out.append(o.tangent if batch is None else stack(o.tangent))
        else:  # this output does not depend on the inputs
            values.append(o)
            tangents_out.append(np.zeros(np.shape(o) if batch is None else (batch,) + np.shape(o)))
    return tree_unflatten(out_def, values), tree_unflatten(out_def, tangents_out)
