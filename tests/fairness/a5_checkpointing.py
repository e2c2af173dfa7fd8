"""Correct submissions of assignment 5 (gradient checkpointing), written differently from the
instructor's: see tests/test_fairness.py for the format and what is checked."""

VARIANTS = [
    {   # 1: itertools.accumulate and reduce; checkpoints in a list kept to the end; floats counted
        "store_all": '''\
from functools import reduce
from itertools import accumulate

def grad_store_all(layers, x0):
    xs = list(accumulate(layers, lambda x, layer: layer.forward(x), initial=x0))
    grad = xs[-1]
    return reduce(lambda g, pair: pair[0].backward(pair[1], g), zip(reversed(layers), reversed(xs[:-1])), grad)
''',
        "checkpointed": '''\
def grad_checkpointed(layers, x0, k):
    n = len(layers)
    starts = list(range(0, n, k))
    checkpoints = []                 # kept until the end: allowed
    x = x0
    for i, layer in enumerate(layers):
        if i % k == 0:
            checkpoints.append(x)
            if i == starts[-1]:
                tail = [x]           # the last segment, kept whole
        x = layer.forward(x)
        if i + 1 > starts[-1] and i + 1 < n:
            tail.append(x)
    grad = x                         # x still holds x_n, as the rules allow
    for j in range(len(starts) - 1, -1, -1):
        s, e = starts[j], min(starts[j] + k, n)
        acts = tail if j == len(starts) - 1 else [checkpoints[j]]
        while len(acts) < e - s:
            acts.append(layers[s + len(acts) - 1].forward(acts[-1]))
        for i in range(e - 1, s - 1, -1):
            grad = layers[i].backward(acts[i - s], grad)
        acts = tail = None
    return grad
''',
        "counting": '''\
def checkpoint_cost(n, k):
    segments = np.ceil(n / k)
    last = n - (segments - 1) * k
    peak = max(segments - 1 + k - 1, segments + last - 1) if segments > 1 else n
    return peak, n + (segments - 1) * (k - 1)


def best_segment_length(n):
    peaks = [checkpoint_cost(n, k)[0] for k in range(1, n + 1)]
    return int(np.argmin(peaks)) + 1
''',
    },
    {   # 2: recursion over the segments; a dict of activations; numpy integers counted
        "store_all": '''\
def grad_store_all(layers, x0):
    inputs = {}
    x = x0
    for i, layer in enumerate(layers):
        inputs[i] = x
        x = layer.forward(x)
    g = x
    for i in sorted(inputs, reverse=True):
        g = layers[i].backward(inputs.pop(i), g)
    return g
''',
        "checkpointed": '''\
def grad_checkpointed(layers, x0, k):
    n = len(layers)
    bounds = [(s, min(s + k, n)) for s in range(0, n, k)]
    saved = {}
    x = x0
    for s, e in bounds[:-1]:
        saved[s] = x
        for layer in layers[s:e]:
            x = layer.forward(x)
    s, e = bounds[-1]
    last = [x]
    for layer in layers[s:e - 1]:
        last.append(layer.forward(last[-1]))
    grad = layers[e - 1].forward(last[-1])

    def back(index, grad, acts):
        s, e = bounds[index]
        for i in range(e - 1, s - 1, -1):
            grad = layers[i].backward(acts.pop(), grad)
        if index == 0:
            return grad
        s, e = bounds[index - 1]
        acts = [saved.pop(s)]
        for layer in layers[s:e - 1]:
            acts.append(layer.forward(acts[-1]))
        return back(index - 1, grad, acts)

    return back(len(bounds) - 1, grad, last)
''',
        "counting": '''\
def checkpoint_cost(n, k):
    n, k = np.int64(n), np.int64(k)
    segments = -(-n // k)
    sizes = [min(k, n - j * k) for j in range(segments)]
    peak = max(j + size for j, size in enumerate(sizes))
    return [peak, n + (segments - 1) * (k - 1)]


def best_segment_length(n):
    best = 1
    for k in range(2, n + 1):
        if checkpoint_cost(n, k)[0] < checkpoint_cost(n, best)[0]:
            best = k
    return best
''',
    },
    {   # 3: a simulation of the scheme counts what it stores and calls
        "store_all": '''\
def grad_store_all(layers, x0):
    trail = [x0]
    for layer in layers:
        trail.append(layer.forward(trail[-1]))
    grad = trail.pop()
    while trail:
        grad = layers[len(trail) - 1].backward(trail.pop(), grad)
    return grad
''',
        "checkpointed": '''\
def grad_checkpointed(layers, x0, k):
    n = len(layers)
    last_start = ((n - 1) // k) * k
    marks = {}
    kept = []
    x = x0
    for i in range(n):
        if i < last_start and i % k == 0:
            marks[i] = x
        if i >= last_start:
            kept.append(x)
        x = layers[i].forward(x)
    grad, x = x, None
    start = last_start
    while True:
        stop = min(start + k, n)
        for i in reversed(range(start, stop)):
            grad = layers[i].backward(kept.pop(), grad)
        if start == 0:
            return grad
        start -= k
        kept = [marks.pop(start)]
        for i in range(start, start + k - 1):
            kept.append(layers[i].forward(kept[-1]))
''',
        "counting": '''\
def checkpoint_cost(n, k):
    stored, calls, peak = 0, n, 0
    starts = list(range(0, n, k))
    for j, s in enumerate(starts):          # the backward sweep on segment j holds ...
        e = min(s + k, n)
        stored = (j + 1) + (e - s - 1)      # ... the checkpoints up to x_s and the segment
        peak = max(peak, stored)
        if j < len(starts) - 1:
            calls += e - s - 1              # every segment but the last is recomputed
    return (peak, calls)


def best_segment_length(n):
    return sorted(range(1, n + 1), key=lambda k: (checkpoint_cost(n, k)[0], k))[0]
''',
    },
]
