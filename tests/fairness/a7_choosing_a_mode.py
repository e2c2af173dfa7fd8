"""Correct submissions of a7_choosing_a_mode that differ from the instructor's solution in
algorithm, types and style: each must get every autograded point."""

WRITTEN = {
    "written_cost_model": "A backward sweep costs a little more than a forward one here, so the crossover is "
                          "a little below 1; the model ignores the growth of a sweep with the matrix size.",
    "written_mixed_order": "Waist: 1000, 1000 and 10 sweeps. Opposite shape: forward mode, 5 sweeps. Sweep each "
                           "part from its narrow end.",
}

VARIANTS = [
    # Imported names, preallocated arrays filled by index, a least-squares fit by hand, and a
    # waist Jacobian straight from jvp and vjp (the value s from the recording).
    dict(WRITTEN, **{
        "jacobian_forward_answer": '''
from adcourse import jvp, vjp

def jacobian_forward(f, x):
    x = np.array(x, dtype=np.float64)
    n = x.shape[0]
    J = None
    for j in range(n):
        tangent = np.zeros(n)
        tangent[j] = 1.0
        _, column = jvp(f, (x,), (tangent,))
        column = np.reshape(column, -1)
        if J is None:
            J = np.empty((column.shape[0], n))
        J[:, j] = column
    return J
''',
        "jacobian_reverse_answer": '''
def jacobian_reverse(f, x):
    x = np.array(x, dtype=np.float64)
    y, pullback = vjp(f, x)
    m = np.size(y)
    J = np.empty((m, x.size))
    for i in range(m):
        cotangent = np.zeros(m)
        cotangent[i] = 1.0
        (row,) = pullback(cotangent)
        J[i] = row
    return J
''',
        "cost_model_answer": '''
def fit_cost_model(n, ms, t_fwd, t_rev):
    m_bar = sum(ms) / len(ms)
    t_bar = sum(t_rev) / len(t_rev)
    slope = sum((m - m_bar) * (t - t_bar) for m, t in zip(ms, t_rev)) / sum((m - m_bar) ** 2 for m in ms)
    s_f = sum(t / n for t in t_fwd) / len(t_fwd)
    return [s_f, t_bar - slope * m_bar, slope]


def crossover_ratio(n, s_f, r_0, s_b):
    return s_f / s_b - r_0 / (n * s_b)
''',
        "waist_answer": '''
def waist_jacobian(h, g, w):
    w = np.asarray(w, dtype=float)
    s, pullback = vjp(h, w)
    k = np.size(s)
    J_h = np.array([pullback(np.eye(k)[l])[0] for l in range(k)])
    J_g = np.column_stack([jvp(g, (s,), (np.eye(k)[l],))[1] for l in range(k)])
    return J_g @ J_h
''',
    }),
    # Comprehensions, column_stack and lists; numpy's lstsq; numpy scalars; a list returned.
    dict(WRITTEN, **{
        "jacobian_forward_answer": '''
import adcourse

def jacobian_forward(f, x):
    x = np.asarray(x, dtype=float)
    columns = [np.atleast_1d(adcourse.jvp(f, (x,), (e,))[1]) for e in np.identity(len(x))]
    return np.column_stack(columns).tolist()
''',
        "jacobian_reverse_answer": '''
def jacobian_reverse(f, x):
    value, pullback = adcourse.vjp(f, np.asarray(x, dtype=float))
    basis = np.eye(len(np.atleast_1d(value)))
    return np.vstack(list(map(lambda e: pullback(e)[0], basis)))
''',
        "cost_model_answer": '''
def fit_cost_model(n, ms, t_fwd, t_rev):
    ms = np.asarray(ms, dtype=float)
    design = np.column_stack([np.ones_like(ms), ms])
    (r_0, s_b), *_ = np.linalg.lstsq(design, np.asarray(t_rev, dtype=float), rcond=None)
    s_f = np.average(np.asarray(t_fwd) / n)
    return (s_f, r_0, s_b)


def crossover_ratio(n, s_f, r_0, s_b):
    m_star = (n * s_f - r_0) / s_b
    return m_star / n
''',
        "waist_answer": '''
def waist_jacobian(h, g, w):
    w = np.asarray(w, dtype=float)
    inner = np.asarray(jacobian_reverse(h, w))
    outer = np.asarray(jacobian_forward(g, h(w)))
    return np.matmul(outer, inner).tolist()
''',
    }),
    # The Jacobian built transposed; polyfit in float32-free fashion through np.cov; an
    # outer-product sum for the waist.
    dict(WRITTEN, **{
        "jacobian_forward_answer": '''
import adcourse

def jacobian_forward(f, x):
    x = np.array(x, dtype=float).reshape(-1)
    transposed = []
    for j in range(x.size):
        direction = np.eye(1, x.size, j).reshape(-1)
        primal_out, tangent_out = adcourse.jvp(f, (x,), (direction,))
        transposed.append(np.ravel(tangent_out))
    return np.array(transposed).T
''',
        "jacobian_reverse_answer": '''
def jacobian_reverse(f, x):
    x = np.array(x, dtype=float).reshape(-1)
    out, back = adcourse.vjp(f, x)
    out = np.ravel(out)
    rows = []
    for i, _ in enumerate(out):
        seed = np.where(np.arange(out.size) == i, 1.0, 0.0)
        rows.append(back(seed)[0])
    return np.array(rows)
''',
        "cost_model_answer": '''
def fit_cost_model(n, ms, t_fwd, t_rev):
    ms = np.array(ms, dtype=float)
    t_rev = np.array(t_rev, dtype=float)
    covariance = np.cov(ms, t_rev, bias=True)
    s_b = covariance[0, 1] / covariance[0, 0]
    r_0 = t_rev.mean() - s_b * ms.mean()
    return np.array([np.mean(t_fwd) / n, r_0, s_b])


def crossover_ratio(n, s_f, r_0, s_b):
    return float((n * s_f - r_0) / (n * s_b))
''',
        "waist_answer": '''
def waist_jacobian(h, g, w):
    J_h = jacobian_reverse(h, w)
    s = h(np.asarray(w, dtype=float))
    J_g = jacobian_forward(g, s)
    total = np.zeros((J_g.shape[0], J_h.shape[1]))
    for l in range(J_h.shape[0]):
        total += np.outer(J_g[:, l], J_h[l])
    return total
''',
    }),
]
