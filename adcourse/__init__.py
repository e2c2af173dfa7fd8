"""adcourse: forward- and reverse-mode automatic differentiation on numpy arrays, written to be read.

Read it in this order, layer by layer (a layer uses only itself and the layers above it):

1. The engine.   core.py (primitives, tracers, levels) → forward.py (jvp: tangents carried
   along) → reverse.py (vjp: the tape and its backward sweep) → numpy.py (every primitive's
   JVP and VJP rule side by side, and what makes a tracer behave like an array) → tree.py
   (nested tuples, lists and dicts of arrays) → custom.py (custom_jvp, custom_vjp: rules of your
   own) → transforms.py (grad, jacfwd, jacrev, hessian, hvp, linearize, linear_transpose).
2. Numerical methods.   finite_diff.py (finite differences, the complex step, check_grads) →
   zeroth_order.py (gradient-free estimators) → matrix_free.py (a matrix known only by its
   products) → trace_estimation.py (Hutchinson, Hutch++) → spectrum.py (Lanczos); checks.py
   holds their shared argument checks.
3. Checkpointing.   checkpoint.py (checkpoint(fun), and schedules for a chain of layers).
4. The lecture's tables and drawings.   graph.py (the computational graph, the forward and
   reverse tables, the step-by-step figures), display.py (numbers in the page's language),
   exercise.py (the chapters' self-checking exercises).
5. The graded notebooks.   answer_cells.py (the rules for answer cells that the autograder
   applies, and that students run themselves before they submit).
"""
from .custom import custom_jvp, custom_vjp
from .forward import batched_jvp, jvp
from .reverse import vjp
from .transforms import (grad, hessian, hvp, jacfwd, jacrev, linear_transpose, linearize,
                         value_and_grad)
from . import graph  # noqa: E402  (the lecture's computational graph and tables)

__all__ = ["grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian", "hvp",
           "linearize", "linear_transpose", "custom_jvp", "custom_vjp", "batched_jvp"]
