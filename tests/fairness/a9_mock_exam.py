"""Correct submissions of a9_mock_exam that differ from the instructor's solution in
algorithm, types and style: each must get every autograded point."""

WRITTEN = {
    "written_theorem": "Forward: n sweeps, O(nT), no extra memory. Reverse: O(T) for the whole gradient, O(N) "
                       "memory (Linnainmaa). R^1000 -> R^3: reverse mode, 3 sweeps.",
    "written_fd_hutchinson": "Rounding grows like eps_mach/eps: best steps 1e-8 and 6e-6. E[v^T X v] = Tr X; "
                             "Rademacher probes see the diagonal exactly; the error falls as 1/sqrt(V).",
}

VARIANTS = [
    # In-place shifts of a copy, numpy's functions, a generic reverse sweep over a list of
    # nodes, the Frobenius norm through the trace.
    dict(WRITTEN, **{
        "fd_answer": '''
def fd_partials(f, x, k, eps):
    x = np.array(x, dtype=float)
    centre = f(x)
    x[k] += eps
    right = f(x.copy())
    x[k] -= 2 * eps
    left = f(x.copy())
    return [(right - centre) / eps, (right - left) / (2 * eps)]
''',
        "forward_answer": '''
def forward_tangents(w1, w2, dw1, dw2):
    v1, v2, v3 = w1 * w2, np.exp(w1 * w2), np.sin(w2)
    rows = [("v1", dw1 * w2 + w1 * dw2)]
    rows.append(("v2", v2 * rows[0][1]))
    rows.append(("v3", np.cos(w2) * dw2))
    rows.append(("v4", rows[1][1] * v3 + v2 * rows[2][1]))
    rows.append(("L", rows[0][1] + rows[3][1]))
    return {name: tangent for name, tangent in rows}
''',
        "backward_answer": '''
def adjoints(w1, w2):
    value = {"w1": w1, "w2": w2}
    graph = [
        ("v1", ("w1", "w2"), lambda a, b: a * b, lambda a, b: (b, a)),
        ("v2", ("v1",), np.exp, lambda a: (np.exp(a),)),
        ("v3", ("w2",), np.sin, lambda a: (np.cos(a),)),
        ("v4", ("v2", "v3"), lambda a, b: a * b, lambda a, b: (b, a)),
        ("L", ("v1", "v4"), lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    ]
    for name, parents, op, _ in graph:
        value[name] = op(*(value[p] for p in parents))
    bar = dict.fromkeys(value, 0.0)
    bar["L"] = 1.0
    for name, parents, _, partials in reversed(graph):
        for p, d in zip(parents, partials(*(value[q] for q in parents))):
            bar[p] += bar[name] * d
    return bar
''',
        "hutchinson_answer": '''
def hutchinson_estimate(matvec, probes):
    total = 0.0
    for v in probes:
        total += np.dot(v, matvec(v))
    return total / len(probes)


def rademacher_variance(X):
    X = np.asarray(X, dtype=float)
    return 2 * (np.trace(X @ X) - np.sum(np.diagonal(X) ** 2))
''',
    }),
    # The basis vector from np.eye, a forward sweep over a node list, adjoints accumulated with
    # dict.get, products stacked and reduced by einsum, the off-diagonal sum by a double loop.
    dict(WRITTEN, **{
        "fd_answer": '''
def fd_partials(f, x, k, eps):
    x = np.asarray(x, dtype=float)
    e_k = np.eye(x.size)[k]
    f_plus = f(x + eps * e_k)
    f_minus = f(x - eps * e_k)
    f_zero = f(x)
    return np.float64((f_plus - f_zero) / eps), np.float64(0.5 * (f_plus - f_minus) / eps)
''',
        "forward_answer": '''
def forward_tangents(w1, w2, dw1, dw2):
    value = {"w1": w1, "w2": w2}
    tangent = {"w1": dw1, "w2": dw2}
    steps = [
        ("v1", lambda v: v["w1"] * v["w2"], {"w1": lambda v: v["w2"], "w2": lambda v: v["w1"]}),
        ("v2", lambda v: math.exp(v["v1"]), {"v1": lambda v: math.exp(v["v1"])}),
        ("v3", lambda v: math.sin(v["w2"]), {"w2": lambda v: math.cos(v["w2"])}),
        ("v4", lambda v: v["v2"] * v["v3"], {"v2": lambda v: v["v3"], "v3": lambda v: v["v2"]}),
        ("L", lambda v: v["v1"] + v["v4"], {"v1": lambda v: 1.0, "v4": lambda v: 1.0}),
    ]
    for name, op, partials in steps:
        value[name] = op(value)
        tangent[name] = sum(d(value) * tangent[p] for p, d in partials.items())
    return {name: tangent[name] for name in ("v1", "v2", "v3", "v4", "L")}
''',
        "backward_answer": '''
def adjoints(w1, w2):
    v1 = w1 * w2
    v2 = math.exp(v1)
    v3 = math.sin(w2)
    bar = {}
    bar["L"] = 1.0
    bar["v4"] = bar["L"] * 1.0
    bar["v1"] = bar["L"] * 1.0
    bar["v2"] = bar["v4"] * v3
    bar["v3"] = bar["v4"] * v2
    bar["v1"] = bar.get("v1", 0.0) + bar["v2"] * v2
    bar["w2"] = bar["v3"] * math.cos(w2)
    bar["w1"] = bar["v1"] * w2
    bar["w2"] = bar.get("w2", 0.0) + bar["v1"] * w1
    return bar
''',
        "hutchinson_answer": '''
def hutchinson_estimate(matvec, probes):
    probes = np.asarray(probes, dtype=float)
    products = np.stack([matvec(v) for v in probes])
    return np.einsum("ij,ij->", probes, products) / probes.shape[0]


def rademacher_variance(X):
    n = len(X)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += 2 * X[i][j] ** 2
    return total
''',
    }),
    # A central difference from a shared helper, 0-d arrays as results, the chain rule written as
    # a single expression per node, the mean by math.fsum, the upper triangle only.
    dict(WRITTEN, **{
        "fd_answer": '''
def fd_partials(f, x, k, eps):
    base = np.asarray(x, dtype=float)
    shifted = lambda h: base + h * (np.arange(base.size) == k)
    values = {h: f(shifted(h)) for h in (0.0, eps, -eps)}
    forward = (values[eps] - values[0.0]) / eps
    central = (values[eps] - values[-eps]) / (2 * eps)
    return np.array(forward), np.array(central)
''',
        "forward_answer": '''
def forward_tangents(w1, w2, dw1, dw2):
    d_v1 = np.array(w2 * dw1 + w1 * dw2)
    d_v2 = np.exp(w1 * w2) * d_v1
    d_v3 = np.cos(w2) * dw2
    d_v4 = np.sin(w2) * d_v2 + np.exp(w1 * w2) * d_v3
    return dict(v1=d_v1, v2=d_v2, v3=d_v3, v4=d_v4, L=d_v1 + d_v4)
''',
        "backward_answer": '''
def adjoints(w1, w2):
    e = np.exp(w1 * w2)
    s, c = np.sin(w2), np.cos(w2)
    bar_L = np.float64(1.0)
    bar_v4 = bar_L
    bar_v3, bar_v2 = bar_v4 * e, bar_v4 * s
    bar_v1 = bar_L + bar_v2 * e
    return {"L": bar_L, "v4": bar_v4, "v3": bar_v3, "v2": bar_v2, "v1": bar_v1,
            "w1": bar_v1 * w2, "w2": bar_v1 * w1 + bar_v3 * c}
''',
        "hutchinson_answer": '''
def hutchinson_estimate(matvec, probes):
    samples = [float(np.asarray(v) @ np.asarray(matvec(v))) for v in probes]
    return math.fsum(samples) / len(samples)


def rademacher_variance(X):
    upper = np.triu(np.asarray(X, dtype=float), k=1)
    return 4.0 * float(np.sum(upper * upper))
''',
    }),
]
