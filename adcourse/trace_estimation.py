"""Stochastic trace estimation: Tr(A) from matrix-vector products alone.

If a random vector v has E[v v^T] = I, then E[v^T A v] = Tr(A E[v v^T]) = Tr(A)
(Hutchinson 1990). Averaging m such samples gives an unbiased estimate whose
variance falls as 1/m. Hutch++ (Meyer, Musco, Musco, Woodruff 2021) first
captures the top of the spectrum exactly with a randomised sketch and spends
Hutchinson's samples only on what remains, so on matrices with decaying
eigenvalues it needs far fewer products for the same accuracy.

A matrix is given either as a square array or as a callable ``matvec(v) -> A v``
on vectors of shape (n,) (see matrix_free.py). For a Hessian the callable is a
Hessian-vector product, and the Hessian is never formed (see :func:`hessian_trace`).
"""

from dataclasses import dataclass

import numpy as np

from .checks import check_count
from .matrix_free import PROBES, as_matvec, hessian_matvec, random_probes  # noqa: F401 (public here too)
from .transforms import hvp


@dataclass(frozen=True)
class TraceEstimate:
    """The estimate, the running estimate after each random probe (for plots),
    and the number of matrix-vector products spent."""

    estimate: float
    running: np.ndarray
    num_matvecs: int

    def __float__(self):
        return float(self.estimate)


def hutchinson(matvec, n=None, num_probes=100, probes="rademacher", rng=None, dtype=np.float64):
    """Hutchinson's estimator Tr(A) ≈ (1/m) Σ_i v_i^T A v_i with m = ``num_probes``
    random probes, E[v v^T] = I. Unbiased; variance in :func:`hutchinson_variance`."""
    num_probes = check_count("num_probes", num_probes, 1)
    matvec, n = as_matvec(matvec, n)
    rng = np.random.default_rng(rng)
    V = random_probes(rng, n, num_probes, probes, dtype)
    samples = np.array([V[:, i] @ matvec(V[:, i]) for i in range(num_probes)], dtype=np.float64)
    running = np.cumsum(samples) / np.arange(1, num_probes + 1)
    return TraceEstimate(float(running[-1]), running, num_probes)


def hutch_plus_plus(matvec, n=None, num_matvecs=100, probes="rademacher", rng=None):
    """Hutch++: Tr(A) = Tr(Q^T A Q) + Tr((I - QQ^T) A (I - QQ^T)), with Q an orthonormal
    basis of A S for a random sketch S; the first term exactly, the second by Hutchinson.

    The m = ``num_matvecs`` products split into thirds: A S, A Q, and the Hutchinson
    probes (which get the remainder when m is not divisible by 3).
    """
    num_matvecs = check_count("num_matvecs", num_matvecs, 3)
    matvec, n = as_matvec(matvec, n)
    rng = np.random.default_rng(rng)
    sketch_size = num_matvecs // 3
    num_probes = num_matvecs - 2 * sketch_size
    S = random_probes(rng, n, sketch_size, probes)
    G = random_probes(rng, n, num_probes, probes)

    def apply(X):  # column by column: a Hessian-vector product takes one vector
        return np.column_stack([matvec(X[:, j]) for j in range(X.shape[1])])

    Q, _ = np.linalg.qr(apply(S))
    exact_part = float(np.sum(Q * apply(Q)))  # Tr(Q^T A Q) as a sum of column dot products
    G = G - Q @ (Q.T @ G)  # probes of (I - QQ^T) A (I - QQ^T): project once, then v^T A v
    samples = np.array([G[:, i] @ matvec(G[:, i]) for i in range(num_probes)])
    running = exact_part + np.cumsum(samples) / np.arange(1, num_probes + 1)
    return TraceEstimate(float(running[-1]), running, num_matvecs)


def hutchinson_variance(A, num_probes, probes="rademacher"):
    """The variance of Hutchinson's estimate for a matrix A with m probes:
    Gaussian 2‖A‖_F²/m, Rademacher 2(‖A‖_F² − Σ a_ii²)/m (A symmetric;
    otherwise its symmetric part (A + A^T)/2, since v^T A v only sees that)."""
    num_probes = check_count("num_probes", num_probes, 1)
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"expected a square matrix, got an array of shape {A.shape}")
    A = (A + A.T) / 2
    frobenius_sq = float(np.sum(A * A))
    if probes == "gaussian":
        return 2 * frobenius_sq / num_probes
    if probes == "rademacher":
        return 2 * (frobenius_sq - float(np.sum(np.diag(A) ** 2))) / num_probes
    raise ValueError(f"probes must be one of {PROBES}, got {probes!r}")


def hessian_trace(f, x, num_probes=100, method="hutchinson", probes="rademacher", rng=None, hvp=hvp):
    """Tr(∇²f(x)) from Hessian-vector products (``hvp``, adcourse's by default), never forming
    the Hessian.

    ``method`` is "hutchinson" (``num_probes`` probes) or "hutch++" (``num_probes``
    products in all). x may have any shape; the Hessian acts on x flattened.
    """
    x = np.asarray(x, dtype=np.float64)
    matvec = hessian_matvec(f, x, hvp)
    if method == "hutchinson":
        return hutchinson(matvec, x.size, num_probes, probes=probes, rng=rng)
    if method == "hutch++":
        return hutch_plus_plus(matvec, x.size, num_probes, probes=probes, rng=rng)
    raise ValueError(f"method must be 'hutchinson' or 'hutch++', got {method!r}")
