"""Hutchinson vs Hutch++: the figures of issue 3, measured.

n = 500, mean relative error |estimate - Tr A| / Tr A over 50 trials, for
  flat spectrum: A = I (Gaussian probes: Rademacher probes are exact on any diagonal matrix),
  decaying spectrum: λ_i = i⁻² in a random orthonormal eigenbasis (Gaussian and Rademacher probes),
at m = 10 ... 1000 matrix-vector products; then Hutchinson's RMS error against its theoretical
standard deviation (Gaussian 2‖A‖_F²/m, Rademacher 2(‖A‖_F² − Σ a_ii²)/m) with more trials.
Targets: Hutchinson within 15% of theory; Hutch++ ≥ 100× better than Hutchinson at m = 100 on λ_i = i⁻².
Run: .venv/bin/python benchmarks/bench_trace_estimation.py [--trials 50] [--sd-trials 500]
"""
import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"  # a 500 x 500 matvec is too small to gain from threads

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from adcourse.trace_estimation import hutch_plus_plus, hutchinson, hutchinson_variance  # noqa: E402

N = 500
MATVECS = (10, 30, 100, 300, 1000)


class Problem:
    """A matrix for the variance formula and the matvec the estimators see."""

    def __init__(self, A, matvec=None):
        self.A, self.trace = A, np.trace(A)
        self.matvec = A.__matmul__ if matvec is None else matvec


def problems(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    decaying = (Q * np.arange(1, N + 1) ** -2.0) @ Q.T
    return {"flat (A = I)": Problem(np.eye(N), matvec=lambda v: v), "lambda_i = i^-2": Problem(decaying)}


def relative_errors(estimator, problem, m, probes, trials, rng):
    return np.array([(estimator(problem.matvec, N, m, probes=probes, rng=rng).estimate - problem.trace)
                     / problem.trace for _ in range(trials)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--sd-trials", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    matrices = problems(rng)

    print(f"n = {N}, mean relative error over {args.trials} trials")
    print(f"{'spectrum':<17} {'probes':<11} {'m':>5} {'Hutchinson':>11} {'Hutch++':>11} {'ratio':>8}")
    ratio_at_100 = {}
    for name, A in matrices.items():
        for probes in ("gaussian",) if name.startswith("flat") else ("gaussian", "rademacher"):
            for m in MATVECS:
                plain = np.abs(relative_errors(hutchinson, A, m, probes, args.trials, rng)).mean()
                plus = np.abs(relative_errors(hutch_plus_plus, A, m, probes, args.trials, rng)).mean()
                print(f"{name:<17} {probes:<11} {m:>5} {plain:>11.2e} {plus:>11.2e} {plain / plus:>8.2f}")
                if m == 100 and not name.startswith("flat"):
                    ratio_at_100[probes] = plain / plus

    m = 100
    print(f"\nHutchinson at m = {m}, {args.sd_trials} trials: RMS error vs theoretical standard deviation")
    print(f"{'spectrum':<17} {'probes':<11} {'RMS error':>10} {'theory sd':>10} {'RMS/sd':>7} "
          f"{'mean |err|':>11} {'sqrt(2/pi) sd':>14}")
    worst = 0.0
    for name, A in matrices.items():
        for probes in ("gaussian",) if name.startswith("flat") else ("gaussian", "rademacher"):
            errors = relative_errors(hutchinson, A, m, probes, args.sd_trials, rng)
            sd = np.sqrt(hutchinson_variance(A.A, m, probes)) / A.trace
            rms = np.sqrt(np.mean(errors**2))
            worst = max(worst, abs(rms / sd - 1))
            print(f"{name:<17} {probes:<11} {rms:>10.3e} {sd:>10.3e} {rms / sd:>7.3f} "
                  f"{np.abs(errors).mean():>11.3e} {np.sqrt(2 / np.pi) * sd:>14.3e}")

    print("\nTargets")
    print(f"  Hutchinson RMS error within 15% of theory: worst deviation {worst:.1%} -> "
          f"{'met' if worst < 0.15 else 'NOT met'}")
    for probes, ratio in ratio_at_100.items():
        print(f"  Hutch++ >= 100x better at m = 100 on lambda_i = i^-2 ({probes}): {ratio:.0f}x -> "
              f"{'met' if ratio >= 100 else 'NOT met'}")
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
