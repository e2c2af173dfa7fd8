"""Forward mode: every value carries its tangent along.

For the input direction t, each intermediate v_i carries v̇_i = Σ_j ∂v_i/∂x_j · ẋ_j,
summed over its arguments x_j. One sweep gives ∂f(x)·t, the derivative along t,
and nothing has to be stored: each tangent is needed only until its children are done.
"""
import numpy as np

from .core import Trace, Tracer, check_input
from .numpy import broadcast_to
from .tree import tree_flatten, tree_unflatten


class JVPTracer(Tracer):
    """A value v watched by forward mode, with its tangent v̇."""

    __slots__ = ("tangent",)

    def __init__(self, trace, primal, tangent):
        self.trace, self.primal, self.tangent = trace, primal, tangent


def push_tangent(prim, ans, primals, params, tangents):
    """v̇ = Σ_j ∂v/∂x_j · ẋ_j: the output tangent of one primitive from its arguments' tangents.

    ``tangents[j]`` is None for an argument that carries none. The lecture's forward step; the
    forward-mode table of graph.py takes it node by node too.
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
    def process(self, prim, args, params):
        mine = [isinstance(a, JVPTracer) and a.trace is self for a in args]
        primals = [a.primal if m else a for a, m in zip(args, mine)]
        ans = prim(*primals, **params)
        tangents = [a.tangent if m else None for a, m in zip(args, mine)]
        return JVPTracer(self, ans, push_tangent(prim, ans, primals, params, tangents))


def jvp(fun, primals, tangents):
    """(f(x), ∂f(x)·t): the value and the derivative of ``fun`` at ``primals`` along ``tangents``.

    Like ``jax.jvp``: ``primals`` and ``tangents`` are tuples with one entry per argument
    (each a float array or a tuple/list/dict of them), and the tangents match their primals' shapes.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp takes primals and tangents as tuples, one entry per argument: "
                        "jvp(f, (x,), (t,))")
    x_leaves, x_def = tree_flatten(tuple(primals))
    t_leaves, t_def = tree_flatten(tuple(tangents))
    if x_def != t_def:
        raise ValueError(f"jvp: the tangents {t_def} are not structured like the primals {x_def}")
    trace = JVPTrace()
    inputs = []
    for i, (x, t) in enumerate(zip(x_leaves, t_leaves)):
        x = check_input(x, "jvp", i)
        t = check_input(t, "jvp (tangent)", i)
        if np.shape(t) != np.shape(x):
            raise ValueError(f"jvp: tangent {i} has shape {np.shape(t)} but its primal has shape "
                             f"{np.shape(x)}; each tangent must have its primal's shape")
        inputs.append(JVPTracer(trace, x, t))
    out = fun(*tree_unflatten(x_def, inputs))
    out_leaves, out_def = tree_flatten(out)
    values, tangents_out = [], []
    for o in out_leaves:
        if isinstance(o, JVPTracer) and o.trace is trace:
            values.append(o.primal)
            tangents_out.append(o.tangent)
        else:  # this output does not depend on the inputs
            values.append(o)
            tangents_out.append(np.zeros(np.shape(o)))
    return tree_unflatten(out_def, values), tree_unflatten(out_def, tangents_out)
