"""Gradient checkpointing, measured: peak memory and time of storing everything vs 8 checkpointed segments.

The chain: 64 layers h_{k+1} = tanh(h_k @ W_k), width 1024, batch 256, float32, loss sum(h_64),
gradient with respect to the input only. Side by side in one run, single-threaded BLAS:
  (a) adcourse: ``adcourse.grad`` of the chain, plain or with each segment of 8 layers wrapped in
      ``adcourse.checkpoint.checkpoint``;
  (b) numpy: backprop written by hand, storing every activation or every 8th and recomputing;
  (c) JAX eager: ``jax.grad`` of the chain, plain or with ``jax.checkpoint`` on each segment;
  and, counted by its own executor, ``adcourse.checkpoint.chain_gradient`` (store_all vs every_k).
Theory (one stored activation per layer, backward step = forward step): 64 / (8 + 8) = 4x less
memory at (2 + 1) / (1 + 1) = 1.5x the time. Target for (a): >= 3.7x less memory at <= 1.5x the time.

Memory is the peak over one gradient call minus what was held before it:
  numpy-based code (adcourse, numpy): tracemalloc, which sees numpy's allocations;
  every variant, in a fresh process: peak resident memory (VmHWM, reset through
  /proc/self/clear_refs after a warm-up call) minus resident memory before the call, with
  MALLOC_MMAP_THRESHOLD_=65536 so that freed arrays go back to the system at once. tracemalloc
  does not see XLA's buffers, so this is the measure for JAX; on numpy it checks tracemalloc.
Time: median of interleaved rounds, every variant once a round.
Run: .venv/bin/python benchmarks/bench_checkpoint.py [--rounds 3]
"""
import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

LAYERS, WIDTH, BATCH, SEGMENTS = 64, 1024, 256, 8
PER_SEGMENT = LAYERS // SEGMENTS
MiB = 2.0 ** 20


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    Ws = [(rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32) for _ in range(LAYERS)]
    x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    return Ws, x


def segments_of(Ws):
    return [Ws[i:i + PER_SEGMENT] for i in range(0, LAYERS, PER_SEGMENT)]


# --- (a) adcourse ------------------------------------------------------------------------------

def adcourse_grad(Ws, wrap):
    """grad of the chain; ``wrap`` puts each segment in checkpoint()."""
    import adcourse
    import adcourse.numpy as anp
    from adcourse.checkpoint import checkpoint

    def segment_fun(Wseg):
        def segment(h):
            for W in Wseg:
                h = anp.tanh(h @ W)
            return h
        return checkpoint(segment) if wrap else segment

    segments = [segment_fun(Wseg) for Wseg in segments_of(Ws)]

    def loss(h):
        for segment in segments:
            h = segment(h)
        return anp.sum(h)
    return adcourse.grad(loss)


# --- (b) numpy by hand -------------------------------------------------------------------------

def numpy_grad(Ws, checkpointed):
    def backward(g, hs, Wseg):  # hs[k] is the input of Wseg[k], hs[-1] the output of the last
        for k in reversed(range(len(Wseg))):
            g = (g * (1.0 - hs[k + 1] * hs[k + 1])) @ Wseg[k].T
        return g

    def forward(h, Wseg, keep):
        hs = [h]
        for W in Wseg:
            h = np.tanh(h @ W)
            if keep:
                hs.append(h)
        return (hs if keep else [h]), h

    def grad(x):
        if not checkpointed:
            hs, h = forward(x, Ws, keep=True)
            return backward(np.ones_like(h), hs, Ws)
        starts, h = [], x
        for Wseg in segments_of(Ws):
            starts.append(h)
            _, h = forward(h, Wseg, keep=False)
        g = np.ones_like(h)
        del h  # the output is not needed any more
        for start, Wseg in reversed(list(zip(starts, segments_of(Ws)))):
            hs, _ = forward(start, Wseg, keep=True)
            g = backward(g, hs, Wseg)
            del hs  # else the next segment's recomputation runs while this one is still held
        return g
    return grad


# --- (c) JAX eager -----------------------------------------------------------------------------

def jax_grad(Ws, remat):
    import jax
    import jax.numpy as jnp

    def segment(h, Wseg):
        for W in Wseg:
            h = jnp.tanh(h @ W)
        return h
    segment = jax.checkpoint(segment) if remat else segment
    jsegments = [tuple(jnp.asarray(W) for W in Wseg) for Wseg in segments_of(Ws)]

    def loss(h):
        for Wseg in jsegments:
            h = segment(h, Wseg)
        return jnp.sum(h)
    grad = jax.grad(loss)
    return lambda x: jax.block_until_ready(grad(x))


VARIANTS = {  # name -> builder(Ws) -> function x -> gradient
    "adcourse store-all": lambda Ws: adcourse_grad(Ws, wrap=False),
    "adcourse checkpoint()": lambda Ws: adcourse_grad(Ws, wrap=True),
    "numpy store-all": lambda Ws: numpy_grad(Ws, checkpointed=False),
    "numpy checkpointed": lambda Ws: numpy_grad(Ws, checkpointed=True),
    "jax store-all": lambda Ws: jax_grad(Ws, remat=False),
    "jax checkpoint": lambda Ws: jax_grad(Ws, remat=True),
}
PAIRS = [("adcourse", "adcourse store-all", "adcourse checkpoint()"),
         ("numpy by hand", "numpy store-all", "numpy checkpointed"),
         ("JAX eager", "jax store-all", "jax checkpoint")]
TIMED = [name for pair in PAIRS for name in pair[1:]]
RSS_MEASURED = ["numpy store-all", "numpy checkpointed", "jax store-all", "jax checkpoint"]


def input_for(name, x):
    """x as the variant takes it: a JAX array for JAX (converted once, before any measurement)."""
    if name.startswith("jax"):
        import jax.numpy as jnp
        return jnp.asarray(x)
    return x


# --- memory ------------------------------------------------------------------------------------

def tracemalloc_peak(fun, x):
    """(peak bytes numpy allocated during fun(x) beyond what it held before, fun(x))."""
    gc.collect()  # start each measurement from a clean heap
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = fun(x)
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak, result


def _status(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024


def rss_child(name):
    """In a fresh process: warm up, reset the peak, then peak resident memory over one call."""
    Ws, x = make_problem()
    fun = VARIANTS[name](Ws)
    x = input_for(name, x)
    fun(x)  # compiles what JAX compiles, fills caches
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current resident size
    before = _status("VmRSS")
    fun(x)
    print(json.dumps({"peak": _status("VmHWM") - before}))


def rss_peak(name):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    out = subprocess.run([sys.executable, __file__, "--rss-child", name], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak"]


# --- time --------------------------------------------------------------------------------------

def interleaved_times(funs, x, rounds):
    """Median wall-clock and CPU seconds per call, every variant once a round. CPU time is the
    fairer figure on a shared machine: BLAS is single-threaded, so it is the work done."""
    wall, cpu = {name: [] for name in funs}, {name: [] for name in funs}
    args = {name: input_for(name, x) for name in funs}
    for _ in range(rounds):
        for name, fun in funs.items():
            gc.collect()
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            fun(args[name])
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start_wall)
    return ({name: statistics.median(t) for name, t in wall.items()},
            {name: statistics.median(t) for name, t in cpu.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        return rss_child(args.rss_child)

    start = time.perf_counter()
    from threadpoolctl import threadpool_info
    print("BLAS:", ", ".join(f"{i['internal_api']} threads={i['num_threads']}" for i in threadpool_info()))
    print(f"{LAYERS} layers tanh(h @ W_k), width {WIDTH}, batch {BATCH}, float32, "
          f"gradient w.r.t. the input, {SEGMENTS} segments of {PER_SEGMENT}")
    Ws, x = make_problem()
    funs = {name: build(Ws) for name, build in VARIANTS.items()}

    # memory of the numpy-based variants; their gradients, and JAX's warm-up, checked against numpy
    memory, reference = {}, funs["numpy store-all"](x)
    for name, fun in funs.items():
        if name.startswith("jax"):
            g = fun(input_for(name, x))
        else:
            memory[name], g = tracemalloc_peak(fun, x)
        g = np.asarray(g)
        error = np.linalg.norm(g - reference) / np.linalg.norm(reference)
        assert error < 1e-4, f"{name}: relative error {error:.1e} against numpy by hand"
        print(f"  {name:30s} gradient {str(g.dtype):7s} relative difference to numpy by hand {error:.1e}")
    rss = {name: rss_peak(name) for name in RSS_MEASURED}
    wall, cpu = interleaved_times({name: funs[name] for name in TIMED}, x, args.rounds)

    print(f"\nPeak memory (MiB) over one gradient call, store-all / checkpointed. Time: median of "
          f"{args.rounds} interleaved rounds, CPU seconds (wall-clock in brackets)")
    print(f"{'':17s} {'memory by':11s} {'store-all':>9s} {'checkpt':>8s} {'ratio':>6s} "
          f"{'t store-all':>18s} {'t checkpt':>18s} {'ratio':>6s} {'(wall)':>7s}")
    for label, full, saving in PAIRS:
        for method, peaks in (("tracemalloc", memory), ("peak RSS", rss)):
            if full not in peaks or saving not in peaks:
                continue
            line = (f"{label:17s} {method:11s} {peaks[full] / MiB:9.1f} {peaks[saving] / MiB:8.1f}"
                    f" {peaks[full] / peaks[saving]:5.2f}x")
            if saving in cpu and (method == "tracemalloc" or full not in memory):
                line += (f" {cpu[full]:8.2f}s ({wall[full]:5.2f}s) {cpu[saving]:8.2f}s ({wall[saving]:5.2f}s)"
                         f" {cpu[saving] / cpu[full]:5.2f}x ({wall[saving] / wall[full]:4.2f}x)")
            print(line)
    print(f"{'theory':17s} {'activations':11s} {LAYERS:9d} {2 * SEGMENTS:8d} {LAYERS / (2 * SEGMENTS):5.2f}x"
          f" {'forward steps:':>18s} {'3 per layer vs 2':>18s} {1.5:5.2f}x")

    ratio_m = memory["adcourse store-all"] / memory["adcourse checkpoint()"]
    ratio_t = cpu["adcourse checkpoint()"] / cpu["adcourse store-all"]
    verdict = "met" if ratio_m >= 3.7 and ratio_t <= 1.5 else "MISSED"
    print(f"\nTarget for adcourse checkpoint(): >= 3.7x less memory at <= 1.5x the time: {verdict} "
          f"({ratio_m:.2f}x at {ratio_t:.2f}x)")

    chain_report(Ws, x)
    print(f"\n(benchmark ran {time.perf_counter() - start:.0f} s)")


def chain_report(Ws, x):
    """chain_gradient's own count of the bytes it holds, next to what tracemalloc sees."""
    import adcourse.numpy as anp
    from adcourse.checkpoint import chain_gradient
    layers = [lambda h, W: anp.tanh(h @ W)] * LAYERS
    print("\nchain_gradient (executor's count vs tracemalloc), peak MiB:")
    for policy, options in (("store_all", {}), ("every_k", {"every": PER_SEGMENT})):
        peak, result = tracemalloc_peak(
            lambda x: chain_gradient(layers, x, anp.sum, policy, params=Ws, **options), x)
        report = result.report
        print(f"  {policy:9s} counted {report.peak_bytes / MiB:6.1f}   tracemalloc {peak / MiB:6.1f}   "
              f"stored activations {report.peak_stored:2d}   forward steps {report.forward_steps} "
              f"({report.recomputed} recomputed)")


if __name__ == "__main__":
    main()
