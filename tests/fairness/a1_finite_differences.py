"""Correct submissions of assignment 1 (finite differences), written differently from the
instructor's: see tests/test_fairness.py for the format and what is checked."""

VARIANTS = [
    {   # 1: vectorised with the identity matrix; a list returned; normals by Box-Muller
        "forward_difference": '''\
def forward_difference_gradient(f, w, eps):
    w = np.array(w, dtype=float)
    base = f(w)
    steps = eps * np.eye(w.size)
    return np.array([(f(w + e.reshape(w.shape)) - base) / eps for e in steps]).reshape(w.shape)
''',
        "central_difference": '''\
def central_difference_gradient(f, w, eps):
    w = np.array(w, dtype=float)
    g = []
    for e in np.eye(w.size):
        step = eps * e.reshape(w.shape)
        g.append((f(w + step) - f(w - step)) / (2 * eps))
    return g
''',
        "step_errors_answer": '''\
def step_errors(f, grad_f, w, steps):
    exact = np.asarray(grad_f(w))
    table = np.zeros((len(steps), 2), dtype=np.float32)
    for row, h in enumerate(steps):
        table[row, 0] = np.linalg.norm(np.asarray(forward_difference_gradient(f, w, h)) - exact)
        table[row, 1] = np.linalg.norm(np.asarray(central_difference_gradient(f, w, h)) - exact)
    return table
''',
        "two_point": '''\
def two_point_estimate(f, w, eps, rng):
    w = np.asarray(w, dtype=float)
    d = w.size
    u1, u2 = rng.random(d), rng.random(d)  # Box-Muller: two uniforms give a standard normal
    z = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
    v = (z / np.sqrt(np.sum(z * z))).reshape(w.shape)
    difference = f(w + eps * v) - f(w - eps * v)
    return d * difference / (2.0 * eps) * v
''',
        "zeroth_order": '''\
def zeroth_order_descent(f, w0, lr, n_steps, eps, rng):
    w = np.array(w0, dtype=float)
    for step in range(n_steps):
        w -= lr * two_point_estimate(f, w, eps, rng)
    return w
''',
    },
    {   # 2: plain Python lists and math; for loops with enumerate; functools.reduce for descent
        "forward_difference": '''\
import math

def forward_difference_gradient(f, w, eps):
    shape = np.shape(w)
    point = [float(t) for t in np.ravel(w)]
    f0 = f(np.reshape(point, shape))
    grads = []
    for i in range(len(point)):
        moved = list(point)
        moved[i] = moved[i] + eps
        grads.append((f(np.reshape(moved, shape)) - f0) / eps)
    return np.reshape(grads, shape)
''',
        "central_difference": '''\
def central_difference_gradient(f, w, eps):
    shape = np.shape(w)
    flat = np.ravel(np.asarray(w, dtype=float))
    result = np.empty(flat.size)
    for i, _ in enumerate(flat):
        up, down = flat.copy(), flat.copy()
        up[i] += eps
        down[i] -= eps
        result[i] = (f(up.reshape(shape)) - f(down.reshape(shape))) / (eps + eps)
    return result.reshape(shape)
''',
        "step_errors_answer": '''\
def step_errors(f, grad_f, w, steps):
    g = grad_f(w)
    errors = [(math.sqrt(sum((a - b) ** 2 for a, b in zip(forward_difference_gradient(f, w, h), g))),
               math.sqrt(sum((a - b) ** 2 for a, b in zip(central_difference_gradient(f, w, h), g))))
              for h in steps]
    return np.array(errors)
''',
        "two_point": '''\
def two_point_estimate(f, w, eps, rng):
    x = np.asarray(w, dtype=float)
    direction = rng.normal(0.0, 1.0, size=x.shape)
    direction = direction / math.sqrt(float(np.sum(direction ** 2)))
    f_plus = f(x + eps * direction)
    f_minus = f(x - eps * direction)
    return x.size * (f_plus - f_minus) / (2 * eps) * direction
''',
        "zeroth_order": '''\
from functools import reduce

def zeroth_order_descent(f, w0, lr, n_steps, eps, rng):
    start = np.asarray(w0, dtype=float)
    return reduce(lambda w, _: w - lr * two_point_estimate(f, w, eps, rng), range(n_steps), start)
''',
    },
    {   # 3: a helper for the unit vectors, a dataclass-free but typed style, a while loop
        "forward_difference": '''\
def unit(d: int, i: int) -> np.ndarray:
    e = np.zeros(d)
    e[i] = 1.0
    return e


def forward_difference_gradient(f, w, eps):
    w = np.asarray(w, dtype=np.float64)
    fw = f(w)
    return np.array([(f(w + eps * unit(w.size, i)) - fw) / eps for i in range(w.size)])
''',
        "central_difference": '''\
def central_difference_gradient(f, w, eps):
    w = np.asarray(w, dtype=np.float64)
    pairs = [(f(w + eps * unit(w.size, i)), f(w - eps * unit(w.size, i))) for i in range(w.size)]
    return np.array([plus - minus for plus, minus in pairs]) / (2 * eps)
''',
        "step_errors_answer": '''\
def step_errors(f, grad_f, w, steps):
    exact = grad_f(w)
    fwd = [np.linalg.norm(forward_difference_gradient(f, w, h) - exact) for h in steps]
    cen = [np.linalg.norm(central_difference_gradient(f, w, h) - exact) for h in steps]
    return np.column_stack([fwd, cen])
''',
        "two_point": '''\
def two_point_estimate(f, w, eps, rng):
    w = np.asarray(w, dtype=np.float64)
    n = len(w)
    z = np.array([rng.standard_normal() for _ in range(n)])  # one coordinate at a time
    v = z / np.linalg.norm(z)
    values = [f(w + eps * v), f(w - eps * v)]
    G = n * (values[0] - values[1]) / (2 * eps) * v
    return G
''',
        "zeroth_order": '''\
def zeroth_order_descent(f, w0, lr, n_steps, eps, rng):
    history = [np.asarray(w0, dtype=np.float64)]
    while len(history) <= n_steps:
        current = history[-1]
        history.append(current - lr * two_point_estimate(f, current, eps, rng))
    return history[-1]
''',
    },
]
