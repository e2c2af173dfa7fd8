"""Correct submissions of assignment 4 (Hessian-vector products and Hutchinson's estimator),
written differently from the instructor's: see tests/test_fairness.py for the format and what
is checked."""

VARIANTS = [
    {   # 1: forward over reverse; probes drawn all at once; functools.partial
        "hvp_answer": '''\
def hvp(f, x, v):
    _, tangent = adcourse.jvp(adcourse.grad(f), (np.asarray(x, dtype=float),), (np.asarray(v, dtype=float),))
    return tangent
''',
        "hutchinson": '''\
def hutchinson_trace(matvec, n, num_samples, rng):
    probes = rng.choice([-1.0, 1.0], size=(num_samples, n))
    return float(np.mean([u @ matvec(u) for u in probes]))
''',
        "hessian_trace_answer": '''\
from functools import partial

def hessian_trace(f, x, num_samples, rng):
    x = np.asarray(x, dtype=float)
    return hutchinson_trace(partial(hvp, f, x), len(x), num_samples, rng)
''',
    },
    {   # 2: reverse over reverse through vjp; integer probes mapped to +-1; a running mean
        "hvp_answer": '''\
def hvp(f, x, v):
    _, pullback = adcourse.vjp(adcourse.grad(f), x)
    (Hv,) = pullback(v)
    return Hv
''',
        "hutchinson": '''\
def hutchinson_trace(matvec, n, num_samples, rng):
    mean = 0.0
    for k in range(1, num_samples + 1):
        u = 2.0 * rng.integers(0, 2, size=n) - 1.0
        sample = float(np.dot(u, matvec(u)))
        mean += (sample - mean) / k
    return mean
''',
        "hessian_trace_answer": '''\
def hessian_trace(f, x, num_samples, rng):
    n = np.size(x)
    total = 0.0
    for _ in range(num_samples):  # Hutchinson written out again, each product an hvp
        u = rng.choice([-1.0, 1.0], size=n)
        total += u @ hvp(f, x, u)
    return total / num_samples
''',
    },
    {   # 3: value_and_grad inside grad; probes from uniform numbers; numpy scalars returned
        "hvp_answer": '''\
import adcourse.numpy as anp

def hvp(f, x, v):
    def directional(y):
        _, g = adcourse.value_and_grad(f)(y)
        return anp.sum(g * v)
    return adcourse.grad(directional)(x)
''',
        "hutchinson": '''\
def hutchinson_trace(matvec, n, num_samples, rng):
    samples = []
    for _ in range(num_samples):
        u = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        samples.append(np.vdot(u, matvec(u)))
    return np.mean(samples)
''',
        "hessian_trace_answer": '''\
def hessian_trace(f, x, num_samples, rng):
    point = np.array(x, dtype=np.float64)
    return hutchinson_trace(lambda u: np.asarray(hvp(f, point, u)), point.size, num_samples, rng)
''',
    },
]
