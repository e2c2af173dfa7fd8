"""Gradient checkpointing: store less during the forward sweep, recompute it in the backward sweep.

Reverse mode keeps every intermediate of the forward sweep for the backward one; for a chain of
n layers that is n activations. ``checkpoint(fun)`` keeps only fun's inputs and output: when the
backward sweep reaches it, fun is run again under ``vjp`` and its pullback applied at once.
"""
from .core import EveryArgument, Primitive
from .forward import jvp
from .reverse import vjp


def checkpoint(fun):
    """fun, whose intermediates are recomputed in the backward sweep instead of stored.

    Like ``jax.checkpoint``: same values, same derivatives, less memory, one more forward run of
    fun per backward sweep. Only the arguments being differentiated are differentiated again.
    """
    def with_only(i, args):  # fun as a function of its i-th argument, the others fixed
        return lambda x: fun(*args[:i], x, *args[i + 1:])

    def jvp_rule(i, t, ans, *args):
        return jvp(with_only(i, args), (args[i],), (t,))[1]

    def vjp_rule(i, g, ans, *args):  # the recomputation happens here, when the sweep arrives
        return vjp(with_only(i, args), args[i])[1](g)[0]

    name = getattr(fun, "__name__", "fun")
    return Primitive(f"checkpoint({name})", fun, jvp=EveryArgument(jvp_rule), vjp=EveryArgument(vjp_rule))
