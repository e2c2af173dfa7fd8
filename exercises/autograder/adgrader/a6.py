"""Hidden checks of assignment 6: the MDS loss, its gradient by hand, gradient descent, the
Procrustes alignment and classical MDS.

References: the gradient in closed form, ∇L = 8(diag(R1) W − R W) with the residuals R (the
test suite checks it against ``jax.grad`` and ``adcourse.grad``), Procrustes by one SVD and
classical MDS by numpy's ``eigh``. The student writes all of them with numpy: ``adcourse``'s
transforms and JAX are forbidden.
"""

import numpy as np

import adcourse.numpy as anp

from .guard import (ALL_TRANSFORMS, ENGINE_MODULES, Forbidden, as_float_array, assert_close, call_student, fail,
                    get, quiet, seed)

FORBIDDEN = Forbidden(functions=ALL_TRANSFORMS, modules=ENGINE_MODULES + ("adcourse.zeroth_order",))


def squared_distances(W):
    return np.sum((W[:, None, :] - W[None, :, :]) ** 2, axis=2)


def problem(rng, N, k, noise=0.0):
    """N hidden points in R^k and a symmetric D with zero diagonal: their squared distances,
    plus symmetric noise of size ``noise`` (then D belongs to no configuration)."""
    X = rng.standard_normal((N, k))
    E = noise * rng.standard_normal((N, N))
    E = E + E.T
    np.fill_diagonal(E, 0.0)
    return X, squared_distances(X) + E


def loss(W, D, xp=anp):
    """L(W) = Σ_ij (‖W_i − W_j‖² − D_ij)², written with ``xp`` (adcourse.numpy or jax.numpy)."""
    N, k = np.shape(W)
    differences = xp.reshape(W, (N, 1, k)) - xp.reshape(W, (1, N, k))
    residuals = xp.sum(differences * differences, axis=2) - D
    return xp.sum(residuals * residuals)


def gradient_reference(W, D):
    """∂L/∂W_i = 8 Σ_j r_ij (W_i − W_j) for a symmetric D."""
    r = squared_distances(W) - D
    return 8 * (r.sum(axis=1)[:, None] * W - r @ W)


def procrustes_reference(W, X):
    W_mean, X_mean = W.mean(axis=0), X.mean(axis=0)
    U, _, Vt = np.linalg.svd((W - W_mean).T @ (X - X_mean))
    return (W - W_mean) @ U @ Vt + X_mean


def gram_of_classical_mds(D, k):
    """Y Yᵀ for classical MDS: the top-k part of B = −J D J / 2, negative eigenvalues as 0."""
    N = D.shape[0]
    J = np.eye(N) - np.ones((N, N)) / N
    values, vectors = np.linalg.eigh(-0.5 * J @ D @ J)
    values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
    return (vectors * np.maximum(values, 0.0)) @ vectors.T


def gradient(namespace):
    """∂L/∂W against the closed form for several N and k, with noisy (non-Euclidean) D."""
    __tracebackhide__ = True
    task = "task 1"
    student = get(namespace, "mds_gradient", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for N, k, noise in ((2, 1, 0.0), (5, 2, 0.5), (9, 3, 2.0), (16, 2, 0.1), (7, 4, 1.0)):
        _, D = problem(rng, N, k, noise)
        cases.append((1.5 * rng.standard_normal((N, k)), D))
    answers = call_student(task, FORBIDDEN, lambda: [student(W.copy(), D.copy()) for W, D in cases])
    for (W, D), answer in zip(cases, answers):
        assert_close(answer, gradient_reference(W, D), rtol=1e-10, atol=1e-12,
                     what=f"{task}: the gradient for N = {W.shape[0]} points in R^{W.shape[1]}")


def descent(namespace):
    """The last iterate against the reference descent, for 0, 1 and many steps."""
    __tracebackhide__ = True
    task = "task 2"
    student = get(namespace, "mds_descent", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for N, k, noise, step, n_steps in ((6, 2, 0.0, 1e-3, 0), (6, 2, 0.3, 1e-3, 1), (8, 3, 0.0, 5e-4, 40),
                                       (10, 2, 0.2, 5e-4, 150)):
        _, D = problem(rng, N, k, noise)
        cases.append((D, rng.standard_normal((N, k)), step, n_steps))
    answers = call_student(task, FORBIDDEN, lambda: [student(D.copy(), W0.copy(), step, n_steps)
                                                     for D, W0, step, n_steps in cases])
    for (D, W, step, n_steps), answer in zip(cases, answers):
        for _ in range(n_steps):
            W = W - step * gradient_reference(W, D)
        assert_close(answer, W, rtol=1e-8, atol=1e-10,
                     what=f"{task}: W after {n_steps} steps of size {step:g} for N = {W.shape[0]} points "
                          f"in R^{W.shape[1]}")


def procrustes(namespace):
    """The aligned copy against the SVD solution: exact copies moved rigidly, noisy copies and
    unrelated configurations, in dimensions 1 to 3."""
    __tracebackhide__ = True
    task = "task 3"
    student = get(namespace, "procrustes_align", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for N, k, noise in ((5, 1, 0.0), (9, 2, 0.0), (9, 2, 0.2), (12, 3, 0.5), (8, 2, 5.0), (10, 3, 10.0)):
        X = rng.standard_normal((N, k))
        Q, _ = np.linalg.qr(rng.standard_normal((k, k)))  # a random rotation or reflection
        cases.append((X @ Q + 3 * rng.standard_normal(k) + noise * rng.standard_normal((N, k)), X, noise))
    answers = call_student(task, FORBIDDEN, lambda: [student(W.copy(), X.copy()) for W, X, _ in cases])
    for (W, X, noise), answer in zip(cases, answers):
        assert_close(answer, procrustes_reference(W, X), rtol=1e-8, atol=1e-10,
                     what=f"{task}: the aligned configuration for N = {X.shape[0]} points in R^{X.shape[1]} "
                          f"(noise {noise:g})")


def classical(namespace):
    """Y Yᵀ against the top-k part of B, for Euclidean and noisy D."""
    __tracebackhide__ = True
    task = "task 4"
    student = get(namespace, "classical_mds", task)
    rng = np.random.default_rng(seed(task))
    cases = []
    for N, dim, k, noise in ((6, 1, 1, 0.0), (10, 3, 3, 0.0), (12, 3, 2, 0.0), (12, 2, 2, 0.5), (9, 4, 3, 1.0)):
        cases.append((problem(rng, N, dim, noise)[1], k, noise))
    answers = call_student(task, FORBIDDEN, lambda: [student(D.copy(), k) for D, k, _ in cases])
    for (D, k, noise), answer in zip(cases, answers):
        N = D.shape[0]
        Y = as_float_array(answer, f"{task}: classical_mds(D, {k})")
        if Y.shape != (N, k):
            fail(f"{task}: classical_mds(D, {k}) for N = {N} has shape {Y.shape}, expected {(N, k)}")
        with quiet():
            expected = gram_of_classical_mds(D, k)
        assert_close(Y @ Y.T, expected, rtol=1e-8, atol=1e-10,
                     what=f"{task}: Y Y^T for N = {N}, k = {k} (noise {noise:g})")
