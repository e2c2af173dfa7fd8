"""Finite differences: derivatives from values of f alone, and a gradient checker.

Stopping the limit that defines a derivative at a small step h leaves two errors.
Truncation: the Taylor terms the quotient ignores, O(h) for a one-sided difference
and O(h²) for the central one. Rounding: f is computed with a relative error of
about ε (machine epsilon), and dividing the difference of two nearly equal values
by h magnifies it to about ε|f|/h. Their sum is smallest near h ≈ √ε (one-sided)
or h ≈ ∛ε (central): the bottom of a V on a log-log plot of error against h
(:func:`step_error_curve`, :func:`optimal_step`). The complex step Im f(x + ih)/h
subtracts nothing, so it has no rounding term and is exact to rounding.

Each estimator returns an :class:`Estimate`: the value and the number of calls of
f it spent — d+1 or 2d for a gradient in d variables, the price that reverse-mode
AD avoids.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .forward import jvp as adcourse_jvp
from .reverse import vjp as adcourse_vjp

EPS = np.finfo(np.float64).eps
SCHEMES = ("forward", "backward", "central", "complex")
# Relative step of each scheme: about the minimiser of truncation + rounding (see
# optimal_step); the complex step has no rounding term, so any tiny step will do.
_RELATIVE_STEP = {"forward": EPS ** 0.5, "backward": EPS ** 0.5, "central": EPS ** (1 / 3), "complex": 1e-20}


class Estimate(NamedTuple):
    """A derivative estimate and the number of evaluations of f it cost."""

    value: np.ndarray
    evaluations: int


def default_step(x, scheme="central"):
    """The step per coordinate, h_i = c·max(1, |x_i|) with c = √ε (forward, backward),
    ∛ε (central) or 1e-20 (complex).

    Relative to |x_i| because for large x_i an absolute step would vanish in x_i + h.
    """
    _check_scheme(scheme)
    return _RELATIVE_STEP[scheme] * np.maximum(1.0, np.abs(as_point(x)))


def fd_jacobian(f, x, scheme="central", step=None):
    """J[..., i] = ∂f/∂x_i from differences along the coordinate vector e_i:
    forward (f(x+h e_i) − f(x))/h, backward (f(x) − f(x−h e_i))/h,
    central (f(x+h e_i) − f(x−h e_i))/(2h), complex Im f(x + ih e_i)/h.

    Shape f(x).shape + x.shape, as ``jax.jacfwd``. Evaluations of f: d+1 for a
    one-sided scheme, 2d central, d complex (d = x.size). ``step`` is a positive
    number or an array of x's shape; by default :func:`default_step`.
    """
    x = as_point(x)
    _check_scheme(scheme)
    if x.size == 0:
        raise ValueError("x is empty: there is no variable to differentiate with respect to")
    h = _check_step(step, x, scheme)
    if scheme == "complex":
        columns = [_complex_column(f, x, i, h.flat[i]) for i in range(x.size)]
        evaluations = x.size
    elif scheme == "central":
        columns = []
        for i in range(x.size):
            (up, a), (down, b) = _shift(x, i, h.flat[i]), _shift(x, i, -h.flat[i])
            columns.append((_evaluate(f, up) - _evaluate(f, down)) / (a - b))
        evaluations = 2 * x.size
    else:
        fx = _evaluate(f, x)
        sign = 1.0 if scheme == "forward" else -1.0
        columns = []
        for i in range(x.size):
            shifted, actual = _shift(x, i, sign * h.flat[i])
            columns.append((_evaluate(f, shifted) - fx) / actual)
        evaluations = x.size + 1
    jacobian = np.stack(columns, axis=-1)
    return Estimate(jacobian.reshape(columns[0].shape + x.shape), evaluations)


def fd_gradient(f, x, scheme="central", step=None):
    """∇f(x) for f: Rⁿ → R, coordinate by coordinate: ∂f/∂x_k ≈ (f(x + h e_k) − f(x))/h
    (forward; backward and central alike, see :func:`fd_jacobian`). Shape x.shape."""
    return fd_jacobian(_scalar_valued(f), x, scheme, step)


def fd_directional(f, x, v, scheme="central", step=None):
    """The derivative of f at x along v, ∂f(x)[v] = d/dt f(x + t v) at t = 0:
    forward (f(x+hv) − f(x))/h, backward (f(x) − f(x−hv))/h, central
    (f(x+hv) − f(x−hv))/(2h), complex Im f(x + ihv)/h.

    Shape f(x).shape. Evaluations: 2 one-sided or central, 1 complex. The default
    step moves x by c·max(1, ‖x‖_∞) in the largest coordinate of v.
    """
    x = as_point(x)
    v = as_point(v, "v")
    _check_scheme(scheme)
    if v.shape != x.shape:
        raise ValueError(f"the direction v has shape {v.shape} but x has shape {x.shape}: they must match")
    size = np.max(np.abs(v), initial=0.0)
    if size == 0:
        raise ValueError("the direction v is zero: give a nonzero direction")
    if step is None:
        step = _RELATIVE_STEP[scheme] * max(1.0, np.max(np.abs(x), initial=0.0)) / size
    h = float(_check_step(step, np.zeros(()), scheme))
    if scheme == "complex":
        return Estimate(np.imag(_evaluate(f, x + 1j * h * v, complex_input=True)) / h, 1)
    if scheme == "central":
        return Estimate((_evaluate(f, x + h * v) - _evaluate(f, x - h * v)) / (2 * h), 2)
    if scheme == "forward":
        return Estimate((_evaluate(f, x + h * v) - _evaluate(f, x)) / h, 2)
    return Estimate((_evaluate(f, x) - _evaluate(f, x - h * v)) / h, 2)


# --- the error as a function of the step -------------------------------------------------

@dataclass(frozen=True)
class StepErrorCurve:
    """Errors of each scheme at each step, for a log-log plot of error against h."""

    steps: np.ndarray
    errors: dict  # scheme -> array of max |estimate − exact|, one per step


def step_error_curve(f, x, exact, steps=None, schemes=("forward", "central", "complex")):
    """max |D_h f(x) − J(x)| over the entries, for each scheme and each step h, where
    J = ``exact`` is the true Jacobian (the gradient for scalar f) of shape f(x).shape + x.shape.

    Default steps: 10⁻¹⁶ … 1, eight per decade. A step too small to change x
    (x_i + h == x_i) gets the error nan: no difference quotient exists there.
    """
    x = as_point(x)
    exact = np.asarray(exact, dtype=np.float64)
    steps = np.logspace(-16, 0, 129) if steps is None else np.asarray(steps, dtype=np.float64)
    if steps.ndim != 1 or steps.size == 0:
        raise ValueError(f"steps must be a non-empty 1-d array of steps, got shape {steps.shape}")
    errors = {}
    for scheme in schemes:
        errors[scheme] = np.full(steps.shape, np.nan)
        for k, h in enumerate(steps):
            try:
                value = fd_jacobian(f, x, scheme, float(h)).value
            except StepVanished:
                continue
            if value.shape != exact.shape:
                raise ValueError(f"exact has shape {exact.shape} but the Jacobian of f at x has shape "
                                 f"{value.shape} (f(x).shape + x.shape)")
            errors[scheme][k] = np.max(np.abs(value - exact))
    return StepErrorCurve(steps, errors)


def error_model(scheme, steps, value_scale, derivative_scale, eps=EPS):
    """The error bound truncation + rounding as a function of h:
    one-sided h·|f''|/2 + 2ε|f|/h, central h²·|f'''|/6 + ε|f|/h.

    ``value_scale`` is |f(x)|; ``derivative_scale`` is |f''(x)| for a one-sided
    scheme and |f'''(x)| for the central one.
    """
    _check_balanced_scheme(scheme)
    h = np.asarray(steps, dtype=np.float64)
    if scheme == "central":
        return h ** 2 * derivative_scale / 6 + eps * value_scale / h
    return h * derivative_scale / 2 + 2 * eps * value_scale / h


def optimal_step(scheme, value_scale, derivative_scale, eps=EPS):
    """The step minimising :func:`error_model`: one-sided h* = 2√(ε|f|/|f''|),
    central h* = ∛(3ε|f|/|f'''|)."""
    _check_balanced_scheme(scheme)
    if not (value_scale > 0 and derivative_scale > 0):
        raise ValueError(f"value_scale and derivative_scale must be positive, got {value_scale!r} "
                         f"and {derivative_scale!r}")
    if scheme == "central":
        return (3 * eps * value_scale / derivative_scale) ** (1 / 3)
    return 2 * np.sqrt(eps * value_scale / derivative_scale)


# --- checking AD against finite differences -----------------------------------------------

def check_grads(fun, args, order=1, modes=("fwd", "rev"), eps=None, rtol=1e-5, atol=1e-5, rng=None,
                jvp=adcourse_jvp, vjp=adcourse_vjp):
    """Check ``jvp`` ("fwd") and ``vjp`` ("rev") of ``fun`` at ``args`` (adcourse's by default;
    any pair with JAX's semantics, JAX's own included) against central differences along random
    directions v:
    fwd  J v  ≈ (f(x + εv) − f(x − εv)) / (2ε);
    rev  ⟨vjp(u), v⟩ ≈ ⟨u, (f(x + εv) − f(x − εv)) / (2ε)⟩ for a random cotangent u.

    ``order=2`` also checks the derivatives of those derivatives (jvp of jvp, vjp of
    jvp, jvp of vjp, vjp of vjp). ``fun`` takes the arrays in ``args`` and returns one
    array. Raises AssertionError naming the numerical estimate and the AD value.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or not set(modes) <= {"fwd", "rev"}:
        raise ValueError(f"modes must be a non-empty subset of ('fwd', 'rev'), got {modes!r}")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"args must be a tuple of arrays (the arguments of fun), got {type(args).__name__}")
    args = tuple(as_point(a, f"args[{i}]") for i, a in enumerate(args))
    if eps is None:
        eps = _RELATIVE_STEP["central"] * max([1.0] + [float(np.max(np.abs(a), initial=0.0)) for a in args])
    eps = float(_check_step(eps, np.zeros(()), "central", name="eps"))
    rng = np.random.default_rng(rng)
    name = getattr(fun, "__name__", repr(fun))
    _check_grads(fun, args, order, modes, (eps, rtol, atol, rng), (jvp, vjp), name)


def _check_grads(fun, args, order, modes, tolerances, transforms, label):
    eps, rtol, atol, rng = tolerances
    jvp, vjp = transforms
    if "fwd" in modes:
        _check_jvp(fun, args, tolerances, jvp, label)
        if order > 1:
            k = len(args)

            def tangent_out(*primals_and_tangents):
                return jvp(fun, primals_and_tangents[:k], primals_and_tangents[k:])[1]

            tangents = tuple(rng.standard_normal(a.shape) for a in args)
            _check_grads(tangent_out, args + tangents, order - 1, modes, tolerances, transforms,
                         f"the jvp of {label}")
    if "rev" in modes:
        _check_vjp(fun, args, tolerances, vjp, label)
        if order > 1:
            cotangent = rng.standard_normal(np.shape(fun(*args)))
            for i in range(len(args)):
                # one argument's cotangent at a time, so each checked function returns one array
                def cotangent_in(*primals, i=i):
                    return vjp(fun, *primals)[1](cotangent)[i]

                _check_grads(cotangent_in, args, order - 1, modes, tolerances, transforms,
                             f"the vjp of {label} (cotangent of argument {i})")


def _random_direction(args, rng):
    v = [rng.standard_normal(a.shape) for a in args]
    norm = np.sqrt(sum(np.sum(t * t) for t in v))
    return tuple(t / norm for t in v)


def _central_along(fun, args, v, eps):
    up = np.asarray(fun(*(a + eps * t for a, t in zip(args, v))), dtype=np.float64)
    down = np.asarray(fun(*(a - eps * t for a, t in zip(args, v))), dtype=np.float64)
    return (up - down) / (2 * eps)


def _name_of(transform):
    """adcourse.jvp for adcourse's own, else the module and name of what was passed."""
    if transform in (adcourse_jvp, adcourse_vjp):
        return f"adcourse.{transform.__name__}"
    return f"{getattr(transform, '__module__', None) or ''}.{getattr(transform, '__name__', 'jvp')}".lstrip(".")


def _check_jvp(fun, args, tolerances, jvp, label):
    eps, rtol, atol, rng = tolerances
    v = _random_direction(args, rng)
    numerical = _central_along(fun, args, v, eps)
    ad = np.asarray(jvp(fun, args, v)[1], dtype=np.float64)
    _compare(numerical, ad, rtol, atol,
             f"forward mode: {_name_of(jvp)} of {label} disagrees with central differences",
             f"at x = {_show(args)}, direction v = {_show(v)}",
             f"(f(x + eps*v) - f(x - eps*v)) / (2*eps) with eps = {eps:.3g}",
             f"{_name_of(jvp)}(f, x, v)")


def _check_vjp(fun, args, tolerances, vjp, label):
    eps, rtol, atol, rng = tolerances
    v = _random_direction(args, rng)
    numerical_tangent = _central_along(fun, args, v, eps)
    u = rng.standard_normal(numerical_tangent.shape)
    numerical = np.sum(u * numerical_tangent)
    cotangents = vjp(fun, *args)[1](u)
    ad = sum(np.sum(np.asarray(c, dtype=np.float64) * t) for c, t in zip(cotangents, v))
    _compare(numerical, ad, rtol, atol,
             f"reverse mode: {_name_of(vjp)} of {label} disagrees with central differences",
             f"at x = {_show(args)}, direction v = {_show(v)}, cotangent u = {_show(u)}",
             f"<u, (f(x + eps*v) - f(x - eps*v)) / (2*eps)> with eps = {eps:.3g}",
             f"<vjp(u), v> from {_name_of(vjp)}")


def _compare(numerical, ad, rtol, atol, headline, where, numerical_how, ad_how):
    if np.shape(numerical) != np.shape(ad):
        raise AssertionError(f"{headline}: the AD value has shape {np.shape(ad)}, "
                             f"the numerical estimate has shape {np.shape(numerical)}")
    numerical, ad = np.asarray(numerical), np.asarray(ad)
    gap = np.abs(ad - numerical)
    allowed = atol + rtol * np.abs(numerical)
    if np.all(gap <= allowed):  # also fails on nan
        return
    worst = np.unravel_index(np.argmax(np.where(np.isnan(gap), np.inf, gap - allowed)), np.shape(gap))
    raise AssertionError(
        f"{headline}\n"
        f"  {where}\n"
        f"  numerical estimate, {numerical_how}:\n    {_show(numerical)}\n"
        f"  AD value, {ad_how}:\n    {_show(ad)}\n"
        f"  largest |AD value - numerical estimate| = {float(gap[worst]):.3e}, allowed "
        f"atol + rtol*|numerical| = {float(allowed[worst]):.3e} (rtol={rtol}, atol={atol})")


def _show(value):
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(t) for t in value) + ")"
    return np.array2string(np.asarray(value), precision=6, threshold=20, max_line_width=100)


# --- input checks and evaluation -----------------------------------------------------------

def as_point(x, name="x"):
    """``x`` as a float64 array, refusing complex, non-numeric or non-finite input."""
    if np.iscomplexobj(x):
        raise ValueError(f"{name} must be real; the complex step adds the imaginary part itself")
    try:
        x = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of real numbers, got {type(x).__name__}") from error
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains nan or inf: a derivative needs a finite point")
    return x


def _check_scheme(scheme):
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")


def _check_balanced_scheme(scheme):
    if scheme not in ("forward", "backward", "central"):
        raise ValueError(f"scheme must be 'forward', 'backward' or 'central' (the complex step has no "
                         f"rounding error to balance), got {scheme!r}")


def _check_step(step, x, scheme, name="step"):
    if step is None:
        return default_step(x, scheme)
    try:
        h = np.asarray(step, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a positive number, got {step!r}") from error
    if h.shape not in ((), x.shape):
        raise ValueError(f"{name} must be a number or an array of shape {x.shape} (one step per "
                         f"coordinate), got shape {h.shape}")
    if not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"{name} must be positive and finite, got {step!r}: try {name}=None for the default")
    return np.broadcast_to(h, x.shape)


class StepVanished(ValueError):
    """The step is below the spacing of floating-point numbers at x: x_i + h == x_i."""


def _shift(x, i, h):
    """x + h e_i and the step actually taken: x_i + h is rounded, and dividing by the
    rounded difference (exact in floating point) removes that error from the quotient."""
    shifted = x.copy()
    shifted.flat[i] += h
    actual = shifted.flat[i] - x.flat[i]
    if actual == 0:
        raise StepVanished(f"the step {h:.3g} vanishes next to x[{i}] = {x.flat[i]:.6g} (x + h == x): "
                           f"take a step of at least {np.spacing(x.flat[i]):.3g}")
    return shifted, actual


def _complex_column(f, x, i, h):
    z = x.astype(np.complex128)
    z.flat[i] += 1j * h
    return np.imag(_evaluate(f, z, complex_input=True)) / h


def _evaluate(f, x, complex_input=False):
    out = np.asarray(f(x))
    if complex_input:
        if not np.issubdtype(out.dtype, np.number):
            raise TypeError(f"f returned {out.dtype} for complex input: the complex step needs "
                            f"f written with functions that accept complex numbers")
        if not np.iscomplexobj(out):
            raise TypeError("f dropped the imaginary part of its complex input (it returned real "
                            "values): the complex step needs f to propagate complex numbers "
                            "(avoid abs, max, comparisons and float() on the input)")
        return out.astype(np.complex128)
    return out.astype(np.float64)


def _scalar_valued(f):
    def scalar_f(x):
        out = f(x)
        if np.ndim(out) != 0:
            raise ValueError(f"f returned an array of shape {np.shape(out)}: fd_gradient needs a "
                             f"scalar-valued f; use fd_jacobian for vector-valued functions")
        return out

    return scalar_f
