"""Zero-order optimisation: gradient descent with gradients estimated from values of f.

The two-point estimator G = d·(f(w+εv) − f(w−εv))/(2ε)·v, with v uniform on the unit
sphere, costs two evaluations whatever the dimension d, and E[G] = ∇f(w) for linear
f (in general it is the gradient of f averaged over a ball of radius ε). The price
is variance: E‖G‖² = d‖∇f‖², so gradient descent must take steps about d times
smaller and needs about d times more iterations — the curse of dimensionality in
the lecture's table of rates, reproduced by :func:`zero_order_rate_table`. The
coordinate estimator (central differences along every e_i) has no variance but
costs 2d evaluations per gradient.

Multidimensional scaling (:func:`mds_loss`) is the lecture's first example problem.
"""

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import numpy as anp
from .checks import check_count
from .finite_diff import EPS, Estimate, as_point, fd_gradient
from .transforms import grad

GRADIENTS = ("true", "two_point", "coordinate")


def random_unit_vector(shape, rng=None):
    """v uniform on the unit sphere in R^d (d = prod(shape)): a normalised Gaussian vector."""
    rng = np.random.default_rng(rng)
    z = rng.standard_normal(shape)
    return z / np.linalg.norm(z)


def two_point_estimate(f, w, eps=None, rng=None):
    """G = d·(f(w + εv) − f(w − εv))/(2ε)·v with v uniform on the unit sphere; 2 evaluations.

    Unbiased for linear f, with E‖G‖² = d‖∇f‖². Default ε = ∛ε_mach·max(1, ‖w‖_∞),
    the central difference's step.
    """
    w = as_point(w, "w")
    eps = _check_eps(eps, w)
    v = random_unit_vector(w.shape, rng)
    difference = _scalar(f(w + eps * v)) - _scalar(f(w - eps * v))
    return Estimate(w.size * difference / (2 * eps) * v, 2)


def coordinate_estimate(f, w, eps=None):
    """G = Σ_i (f(w + εe_i) − f(w − εe_i))/(2ε)·e_i, the central-difference gradient;
    2d evaluations. Default ε per coordinate: ∛ε_mach·max(1, |w_i|)."""
    return fd_gradient(f, as_point(w, "w"), "central", eps)


@dataclass(frozen=True)
class History:
    """What gradient descent did. Entry k of ``loss`` and ``evaluations`` belongs to the
    iterate w_k (k = 0 … K); entry k of ``gradient_norm`` to the step from w_k to w_{k+1}."""

    loss: np.ndarray                  # f(w_k)
    gradient_norm: np.ndarray         # ‖G_k‖ of the gradient (or estimate) the step used
    evaluations: np.ndarray           # calls of f the gradient estimates spent before w_k
    gradient_evaluations: np.ndarray  # true gradients computed before w_k
    iterate_steps: np.ndarray         # the k of each stored iterate
    iterates: np.ndarray              # w_k for k in iterate_steps, stacked (for animations)
    w: np.ndarray                     # the last iterate

    @property
    def steps(self):
        """The number of steps taken, K."""
        return len(self.loss) - 1


def gradient_descent(f, w0, step, n_iter, gradient="true", rng=None, eps=None,
                     record_every=None, target_loss=None):
    """w_{k+1} = w_k − α_k G_k for k < ``n_iter``, with G_k from ``gradient``:
    "true" (``adcourse.grad``), "two_point", "coordinate", or a callable w -> G
    returning an array (counted as a true gradient) or an :class:`Estimate`.

    ``step`` is α or a callable k -> α_k. Stops early once f(w_k) <= ``target_loss``.
    ``record_every=k`` stores every k-th iterate (and the last) in the history.
    """
    w = as_point(w0, "w0").copy()
    estimate = _gradient_rule(f, gradient, rng, eps)
    n_iter = check_count("n_iter", n_iter, 0)
    if record_every is not None:
        record_every = check_count("record_every", record_every, 1)
    loss, norms, evaluations, gradient_evaluations = [], [], [0], [0]
    iterate_steps, iterates = [], []
    for k in range(n_iter + 1):
        loss.append(_scalar(f(w)))
        if record_every is not None and k % record_every == 0:
            iterate_steps.append(k)
            iterates.append(w.copy())
        if not np.isfinite(loss[-1]):
            warnings.warn(f"gradient descent: the loss became {loss[-1]} at step {k}; the step is too "
                          f"large for this function", RuntimeWarning, stacklevel=2)
            break
        if k == n_iter or (target_loss is not None and loss[-1] <= target_loss):
            break
        G, spent, gradients = estimate(w)
        alpha = step(k) if callable(step) else step
        if not (np.isfinite(alpha) and alpha > 0):
            raise ValueError(f"step must be a positive number (or a function k -> positive number), "
                             f"got {alpha!r} at step {k}")
        w = w - alpha * G
        norms.append(float(np.linalg.norm(G)))
        evaluations.append(evaluations[-1] + spent)
        gradient_evaluations.append(gradient_evaluations[-1] + gradients)
    if record_every is not None and iterate_steps[-1] != len(loss) - 1:
        iterate_steps.append(len(loss) - 1)
        iterates.append(w.copy())
    return History(np.array(loss), np.array(norms), np.array(evaluations), np.array(gradient_evaluations),
                   np.array(iterate_steps, dtype=int), np.array(iterates).reshape((-1,) + w.shape), w)


def _gradient_rule(f, gradient, rng, eps):
    """A function w -> (G, evaluations of f spent, true gradients spent)."""
    if callable(gradient):
        def rule(w):
            G = gradient(w)
            if isinstance(G, Estimate):
                return _checked(G.value, w, "gradient(w)"), G.evaluations, 0
            return _checked(G, w, "gradient(w)"), 0, 1
        return rule
    if gradient == "true":
        grad_f = grad(f)
        return lambda w: (_checked(grad_f(w), w, "adcourse.grad(f)(w)"), 0, 1)
    if gradient == "two_point":
        rng = np.random.default_rng(rng)
        return lambda w: (*two_point_estimate(f, w, eps, rng), 0)
    if gradient == "coordinate":
        return lambda w: (*coordinate_estimate(f, w, eps), 0)
    raise ValueError(f"gradient must be one of {GRADIENTS} or a function w -> gradient, got {gradient!r}")


def _checked(G, w, what):
    G = np.asarray(G, dtype=np.float64)
    if G.shape != w.shape:
        raise ValueError(f"{what} has shape {G.shape} but w has shape {w.shape}: a gradient has w's shape")
    return G


# --- the rate table: GD against zero-order GD on strongly convex quadratics -------------

@dataclass(frozen=True)
class Quadratic:
    """f(w) = ½ (w − w*)ᵀ A (w − w*) with the eigenvalues of A in [mu, L]."""

    A: np.ndarray
    minimizer: np.ndarray
    mu: float
    L: float

    def __call__(self, w):
        r = w - self.minimizer
        return 0.5 * r @ (self.A @ r)

    def gradient(self, w):
        """∇f(w) = A (w − w*)."""
        return self.A @ (w - self.minimizer)


def make_quadratic(n, kappa, rng=None):
    """A random quadratic in R^n: A = Q diag(λ) Qᵀ with Q a random rotation and λ evenly
    spaced in [1, κ], so μ = 1, L = κ; the minimizer w* is standard normal."""
    n = check_count("n", n, 1)
    if not (np.isfinite(kappa) and kappa >= 1):
        raise ValueError(f"kappa (the condition number L/mu) must be >= 1, got {kappa!r}")
    rng = np.random.default_rng(rng)
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Q * np.sign(np.diag(R))  # the sign fix makes Q uniformly distributed (Haar)
    eigenvalues = np.linspace(1.0, kappa, n)
    A = (Q * eigenvalues) @ Q.T
    return Quadratic((A + A.T) / 2, rng.standard_normal(n), float(eigenvalues.min()), float(eigenvalues.max()))


@dataclass(frozen=True)
class RateTable:
    """Iterations to reach f(w_k) − f* <= tol·(f(w_0) − f*), per dimension n."""

    dims: np.ndarray
    gd_iterations: np.ndarray
    zero_order_iterations: np.ndarray

    @property
    def ratio(self):
        """Zero-order iterations over GD iterations: the theory says about n."""
        return self.zero_order_iterations / self.gd_iterations


def zero_order_rate_table(dims=(4, 16, 64), kappa=10.0, tol=1e-6, rng=0, max_iter=None):
    """Iterations of GD (step 1/L) and two-point zero-order GD (step 1/(nL)) to reduce
    f − f* by ``tol`` on a random quadratic (:func:`make_quadratic`) in each dimension n.

    Theory: GD shrinks f − f* by (1 − μ/L) per step, zero-order GD by (1 − μ/(nL)) in
    expectation (since E‖G‖² = n‖∇f‖²), so the ratio of iterations grows like n.
    ``max_iter`` defaults to 10·n·κ·ln(1/tol), ten times the zero-order bound.
    """
    rng = np.random.default_rng(rng)
    if not 0 < tol < 1:
        raise ValueError(f"tol must be in (0, 1), the factor by which f - f* must fall; got {tol!r}")
    gd, zero_order = [], []
    for n in dims:
        problem = make_quadratic(n, kappa, rng)
        w0 = np.zeros(n)
        target = tol * problem(w0)  # f* = 0
        limit = max_iter or int(np.ceil(10 * n * kappa * np.log(1 / tol)))
        runs = {"gd": gradient_descent(problem, w0, 1 / problem.L, limit, problem.gradient,
                                       target_loss=target),
                "zero-order": gradient_descent(problem, w0, 1 / (n * problem.L), limit, "two_point",
                                               rng=rng, target_loss=target)}
        for method, history in runs.items():
            if history.loss[-1] > target:
                raise RuntimeError(f"{method} did not reach tol={tol} in {limit} iterations for n={n}: "
                                   f"raise max_iter")
        gd.append(runs["gd"].steps)
        zero_order.append(runs["zero-order"].steps)
    return RateTable(np.array(dims), np.array(gd), np.array(zero_order))


# --- multidimensional scaling -------------------------------------------------------------

class MDSProblem(NamedTuple):
    """Points in R^dim and the matrix of their squared distances D_ij = ‖X_i − X_j‖²."""

    coordinates: np.ndarray
    distances: np.ndarray


def make_mds_problem(n_points, dim=2, rng=None):
    """``n_points`` standard normal points in R^dim and their squared distances."""
    n_points = check_count("n_points", n_points, 2)
    dim = check_count("dim", dim, 1)
    X = np.random.default_rng(rng).standard_normal((n_points, dim))
    return MDSProblem(X, squared_distances(X))


def squared_distances(X):
    """D_ij = ‖X_i − X_j‖² for the rows of X (plain numpy)."""
    X = np.asarray(X, dtype=np.float64)
    return np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)


def mds_loss(W, D):
    """L(W) = Σ_ij (‖W_i − W_j‖² − D_ij)² for W of shape (N, dim) and D of shape (N, N),
    written with ``adcourse.numpy`` so the engine can differentiate it."""
    if len(np.shape(W)) != 2:
        raise ValueError(f"W must have shape (N, dim), one row per point; got shape {np.shape(W)}")
    N, dim = np.shape(W)
    if np.shape(D) != (N, N):
        raise ValueError(f"D must have shape ({N}, {N}) for {N} points; got shape {np.shape(D)}")
    # W_i − W_j for all pairs by broadcasting an (N, 1, dim) against a (1, N, dim) array
    differences = anp.reshape(W, (N, 1, dim)) - anp.reshape(W, (1, N, dim))
    residuals = anp.sum(differences * differences, axis=2) - D
    return anp.sum(residuals * residuals)


# --- input checks ---------------------------------------------------------------------------

def _check_eps(eps, w):
    if eps is None:
        return EPS ** (1 / 3) * max(1.0, float(np.max(np.abs(w), initial=0.0)))
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite number (the smoothing radius), got {eps!r}")
    return float(eps)


def _scalar(value):
    if np.ndim(value) != 0:
        raise ValueError(f"f returned an array of shape {np.shape(value)}: zero-order estimators need "
                         f"a scalar-valued f (a loss)")
    return float(value)

