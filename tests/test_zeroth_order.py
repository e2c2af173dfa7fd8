"""Zero-order estimators against their bias and variance formulas, gradient descent against
its closed form, the rate table's factor n, and the MDS problem against JAX."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import adcourse
from adcourse.finite_diff import Estimate, fd_gradient
from adcourse.zeroth_order import (coordinate_estimate, gradient_descent, make_mds_problem,
                                   make_quadratic, mds_loss, random_unit_vector, squared_distances,
                                   two_point_estimate, zero_order_rate_table)

jax.config.update("jax_enable_x64", True)


def linear(g, c=0.5):
    return lambda w: g @ w + c


# --- the two-point estimator ----------------------------------------------------------------
# For linear f(w) = gᵀw + c the central difference is exact, so G = d (gᵀv) v. With v uniform
# on the unit sphere, E[v vᵀ] = I/d, E[v_a² v_b²] = (1 + 2δ_ab)/(d(d+2)), hence
#   E[G] = d E[v vᵀ] g = g                                   (unbiased)
#   Var(G_j) = d (‖g‖² + 2 g_j²)/(d + 2) − g_j²
#   E‖G‖² = d² E[(gᵀv)²] = d ‖g‖²,   Var‖G‖² = d² ‖g‖⁴ (2d − 2)/(d + 2)   (E[(gᵀv)⁴] = 3‖g‖⁴/(d(d+2)))

def test_two_point_estimator_is_unbiased_on_linear_functions():
    d, trials = 10, 20000
    rng = np.random.default_rng(0)
    g, w = rng.standard_normal(d), rng.standard_normal(d)
    samples = np.array([two_point_estimate(linear(g), w, 1e-2, rng).value for _ in range(trials)])
    variance = d * (g @ g + 2 * g ** 2) / (d + 2) - g ** 2
    np.testing.assert_allclose(samples.var(axis=0), variance, rtol=0.1)  # the formula itself
    z_scores = (samples.mean(axis=0) - g) / np.sqrt(variance / trials)
    assert np.max(np.abs(z_scores)) < 4.5


def test_two_point_second_moment_is_d_times_the_gradient_norm():
    trials, second_moments = 4000, []
    rng = np.random.default_rng(1)
    for d in (2, 8, 32, 128):
        g = rng.standard_normal(d)
        norms = np.array([np.sum(two_point_estimate(linear(g), np.zeros(d), 1.0, rng).value ** 2)
                          for _ in range(trials)])
        expected = d * (g @ g)
        standard_error = np.sqrt(d ** 2 * (g @ g) ** 2 * (2 * d - 2) / (d + 2) / trials)
        assert abs(norms.mean() - expected) < 4 * standard_error, d
        second_moments.append(norms.mean() / (g @ g))
    # E‖G‖²/‖g‖² = d: it grows with the dimension, in proportion
    np.testing.assert_allclose(second_moments, [2, 8, 32, 128], rtol=0.1)


def test_two_point_estimate_costs_two_evaluations_and_is_reproducible():
    calls = []
    f = lambda w: calls.append(1) or np.sum(w ** 2)  # noqa: E731
    first = two_point_estimate(f, np.ones((3, 2)), rng=5)
    second = two_point_estimate(f, np.ones((3, 2)), rng=5)
    assert first.evaluations == 2 and len(calls) == 4
    assert first.value.shape == (3, 2)
    np.testing.assert_array_equal(first.value, second.value)


def test_random_unit_vectors_are_uniform_on_the_sphere():
    rng = np.random.default_rng(2)
    V = np.array([random_unit_vector(5, rng) for _ in range(20000)])
    np.testing.assert_allclose(np.linalg.norm(V, axis=1), 1.0)
    # E[v vᵀ] = I/d; each entry's sample mean within a few standard errors (entries of v v^T have std ≤ 1/d)
    np.testing.assert_allclose(V.T @ V / len(V), np.eye(5) / 5, atol=4 * 0.2 / np.sqrt(len(V)))


def test_coordinate_estimate_is_the_central_difference_gradient():
    problem = make_quadratic(6, 5.0, rng=3)
    w = np.random.default_rng(4).standard_normal(6)
    estimate = coordinate_estimate(problem, w)
    assert estimate.evaluations == 12
    # exact on quadratics but for rounding, ε|f|/h ≈ 1e-10·|f|
    np.testing.assert_allclose(estimate.value, problem.gradient(w), rtol=0, atol=1e-10 * problem(w))
    np.testing.assert_array_equal(estimate.value, fd_gradient(problem, w, "central").value)


def test_zero_order_estimators_refuse_bad_arguments():
    f = lambda w: np.sum(w ** 2)  # noqa: E731
    for eps in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="eps must be a positive"):
            two_point_estimate(f, np.ones(3), eps)
    with pytest.raises(ValueError, match="step must be positive"):
        coordinate_estimate(f, np.ones(3), 0.0)
    with pytest.raises(ValueError, match="scalar-valued f"):
        two_point_estimate(np.sin, np.ones(3))


# --- gradient descent -----------------------------------------------------------------------

def test_gradient_descent_follows_the_closed_form_on_a_quadratic():
    # w_k − w* = (I − αA)^k (w_0 − w*), with the gradient from the engine or from a formula
    problem = make_quadratic(5, 8.0, rng=6)
    w0, alpha, K = np.zeros(5), 1 / problem.L, 25
    expected = problem.minimizer + np.linalg.matrix_power(np.eye(5) - alpha * problem.A, K) @ (w0 - problem.minimizer)
    for gradient in ("true", problem.gradient):
        history = gradient_descent(problem, w0, alpha, K, gradient, record_every=10)
        np.testing.assert_allclose(history.w, expected, rtol=1e-10)
        assert history.steps == K and len(history.loss) == K + 1 and len(history.gradient_norm) == K
        np.testing.assert_array_equal(history.gradient_evaluations, np.arange(K + 1))
        np.testing.assert_array_equal(history.evaluations, 0)
        np.testing.assert_array_equal(history.iterate_steps, [0, 10, 20, 25])
        np.testing.assert_array_equal(history.iterates[-1], history.w)
        assert history.loss[-1] == pytest.approx(problem(expected))
        assert np.all(np.diff(history.loss) < 0)  # step 1/L never increases a smooth convex f


def test_gradient_descent_counts_evaluations():
    problem = make_quadratic(4, 2.0, rng=7)
    w0 = np.zeros(4)
    two_point = gradient_descent(problem, w0, 0.05, 30, "two_point", rng=0)
    np.testing.assert_array_equal(two_point.evaluations, 2 * np.arange(31))
    coordinate = gradient_descent(problem, w0, 0.05, 30, "coordinate")
    np.testing.assert_array_equal(coordinate.evaluations, 2 * 4 * np.arange(31))
    custom = gradient_descent(problem, w0, 0.05, 30, lambda w: Estimate(problem.gradient(w), 3))
    np.testing.assert_array_equal(custom.evaluations, 3 * np.arange(31))
    np.testing.assert_array_equal(custom.gradient_evaluations, 0)
    # the same seed, the same run
    again = gradient_descent(problem, w0, 0.05, 30, "two_point", rng=0)
    np.testing.assert_array_equal(again.loss, two_point.loss)


def test_gradient_descent_stops_at_the_target_and_takes_step_schedules():
    problem = make_quadratic(4, 2.0, rng=8)
    full = gradient_descent(problem, np.zeros(4), 1 / problem.L, 200, problem.gradient)
    target = 1e-8 * full.loss[0]
    stopped = gradient_descent(problem, np.zeros(4), 1 / problem.L, 200, problem.gradient, target_loss=target)
    first = int(np.argmax(full.loss <= target))
    assert stopped.steps == first and stopped.loss[-1] <= target < stopped.loss[-2]
    schedule = gradient_descent(problem, np.zeros(4), lambda k: 1 / problem.L, 50, problem.gradient)
    np.testing.assert_array_equal(schedule.loss, full.loss[:51])


def test_gradient_descent_refuses_bad_arguments():
    problem = make_quadratic(3, 2.0, rng=9)
    with pytest.raises(ValueError, match="gradient must be one of"):
        gradient_descent(problem, np.zeros(3), 0.1, 5, "exact")
    with pytest.raises(ValueError, match="step must be a positive number"):
        gradient_descent(problem, np.zeros(3), -0.1, 5, problem.gradient)
    with pytest.raises(ValueError, match="n_iter must be an integer"):
        gradient_descent(problem, np.zeros(3), 0.1, -1, problem.gradient)
    with pytest.raises(ValueError, match=r"gradient\(w\) has shape \(2,\)"):
        gradient_descent(problem, np.zeros(3), 0.1, 5, lambda w: np.ones(2))
    with pytest.warns(RuntimeWarning, match="step is too large"), np.errstate(over="ignore", invalid="ignore"):
        history = gradient_descent(problem, np.ones(3), 1e3, 1000, problem.gradient)
    assert not np.isfinite(history.loss[-1]) and history.steps < 1000


# --- the rate table ---------------------------------------------------------------------------

def test_zero_order_gd_needs_about_n_times_more_iterations():
    table = zero_order_rate_table(dims=(4, 16, 64), kappa=10.0, tol=1e-6, rng=0)
    # theory: GD contracts f − f* by (1 − μ/L) per step, two-point GD by (1 − μ/(nL)): ratio ≈ n
    assert np.all((0.5 < table.ratio / table.dims) & (table.ratio / table.dims < 2)), table.ratio
    slope = np.polyfit(np.log(table.dims), np.log(table.ratio), 1)[0]
    assert 0.8 < slope < 1.2, slope
    # and GD's count does not depend on n (it depends on κ only): within a factor 2
    assert table.gd_iterations.max() < 2 * table.gd_iterations.min()


def test_make_quadratic_has_the_asked_spectrum():
    problem = make_quadratic(7, 30.0, rng=10)
    eigenvalues = np.linalg.eigvalsh(problem.A)
    np.testing.assert_allclose(eigenvalues, np.linspace(1, 30, 7), rtol=1e-12)
    assert (problem.mu, problem.L) == (1.0, 30.0)
    assert problem(problem.minimizer) == 0.0
    with pytest.raises(ValueError, match="kappa"):
        make_quadratic(3, 0.5)


# --- multidimensional scaling --------------------------------------------------------------

def test_mds_problem_and_loss():
    X, D = make_mds_problem(6, 3, rng=11)
    assert X.shape == (6, 3) and D.shape == (6, 6)
    np.testing.assert_allclose(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0)
    assert D[1, 4] == pytest.approx(np.sum((X[1] - X[4]) ** 2))
    assert mds_loss(X, D) == pytest.approx(0, abs=1e-20)
    # the loss sees only distances: rotations and shifts of the points change nothing
    Q = np.linalg.qr(np.random.default_rng(12).standard_normal((3, 3)))[0]
    assert mds_loss(X @ Q + 2.0, D) == pytest.approx(0, abs=1e-20)
    W = np.random.default_rng(13).standard_normal((6, 3))
    direct = sum((np.sum((W[i] - W[j]) ** 2) - D[i, j]) ** 2 for i in range(6) for j in range(6))
    assert mds_loss(W, D) == pytest.approx(direct, rel=1e-12)
    with pytest.raises(ValueError, match=r"W must have shape \(N, dim\)"):
        mds_loss(W.ravel(), D)
    with pytest.raises(ValueError, match=r"D must have shape \(6, 6\)"):
        mds_loss(W, D[:5, :5])


def test_mds_gradient_matches_jax():
    X, D = make_mds_problem(8, 2, rng=14)
    W = np.random.default_rng(15).standard_normal((8, 2))

    def jax_loss(W, D):
        differences = W[:, None, :] - W[None, :, :]
        return jnp.sum((jnp.sum(differences ** 2, axis=-1) - D) ** 2)

    np.testing.assert_allclose(adcourse.grad(mds_loss)(W, D), jax.grad(jax_loss)(W, D), rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(adcourse.hvp(lambda W: mds_loss(W, D), W, X),
                               jax.jvp(jax.grad(lambda W: jax_loss(W, D)), (W,), (X,))[1], rtol=1e-12, atol=1e-10)


def test_gradient_recovers_mds_distances_and_two_point_gd_does_much_worse():
    N = 20  # points in the plane: d = 40 unknowns
    X, D = make_mds_problem(N, 2, rng=0)
    W0 = 0.1 * np.random.default_rng(100).standard_normal((N, 2))

    def loss(W):
        return mds_loss(W, D)

    K = 200
    gd = gradient_descent(loss, W0, 5e-4, K, "true")
    assert gd.loss[-1] < 1e-6 * gd.loss[0]
    np.testing.assert_allclose(squared_distances(gd.w), D, atol=1e-3 * D.max())
    # Budget: reverse mode costs a small constant times one evaluation of f (the cheap gradient
    # principle); charge each gradient 5 evaluations, generously, so two-point GD (2 per step)
    # gets 5K/2 steps, and give it the best step from a grid (the largest ones diverge).
    budget = 5 * K
    finals = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for step in (5e-6, 1.5e-5, 5e-5, 1.5e-4):
            zo = gradient_descent(loss, W0, step, budget // 2, "two_point", rng=1)
            assert zo.evaluations[-1] <= budget
            finals.append(zo.loss[-1])
    best = np.nanmin(np.where(np.isfinite(finals), finals, np.nan))
    assert best > 1e3 * gd.loss[-1] and best > 1e-4 * gd.loss[0], finals
