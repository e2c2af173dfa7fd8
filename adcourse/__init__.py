"""adcourse: forward- and reverse-mode automatic differentiation on numpy arrays, written to be read.

Read it in this order: core.py (primitives and tracers), forward.py (jvp), reverse.py (vjp),
numpy.py (each primitive's rules), transforms.py (grad, jacobians, hvp), graph.py (the lecture's
computational graph and its tables).
"""
from .forward import jvp
from .reverse import vjp
from .transforms import grad, hessian, hvp, jacfwd, jacrev, value_and_grad
from . import graph  # noqa: E402  (the lecture's computational graph and tables)

__all__ = ["grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian", "hvp"]
