"""How long `nbgrader autograde` takes for a class, with the course's configuration.

On a temporary copy of the course (assignment 2, forward mode):
1. nbgrader's fixed start-up cost (a run with nothing to grade);
2. a class of 30 honest submissions (full, partly wrong and blank ones) in one run, with
   every kernel in the bubblewrap sandbox (the course's default): seconds per submission,
   with and without the start-up; and the same class again without the sandbox, side by side;
3. the sandbox's own cost per kernel start: sandboxed and plain kernels started in turn;
4. one honest submission against one that hangs in one test cell, and against one that
   hangs in every cell: the extra time, next to the cell timeout and the notebook timeout.

Target: at most 2 s per honest submission on average over the class (sandboxed), and a
hanging submission costing no more than its timeout.

    .venv/bin/python benchmarks/bench_autograde.py [--students 30] [--timeout 10]
"""
import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from grading_course import copy_course, nbgrader, replaced, solutions, submission, submit  # noqa: E402

A = "a2_forward_mode"


async def _kernel_start(manager_class):
    """Seconds from asking for a kernel to its first answer (then it is shut down)."""
    km = manager_class(kernel_name="python3")
    start = time.perf_counter()
    await km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # no banners
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        return time.perf_counter() - start
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def kernel_starts(course, rounds):
    """(sandboxed, plain) start times, the two kinds started in turn."""
    from jupyter_client.manager import AsyncKernelManager
    os.environ["ADGRADER_DIR"] = str(course / "autograder")
    sys.path.insert(0, str(course / "autograder"))
    from adgrader.sandbox import SandboxedKernelManager
    times = {SandboxedKernelManager: [], AsyncKernelManager: []}
    for _ in range(rounds):
        for kind in times:
            times[kind].append(asyncio.run(_kernel_start(kind)))
    return times[SandboxedKernelManager], times[AsyncKernelManager]


def autograde(course, *extra):
    start = time.perf_counter()
    done = nbgrader(course, "autograde", A, *extra, timeout=3600)
    return time.perf_counter() - start, done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--timeout", type=int, default=10, help="Execute.timeout for the hang runs (s)")
    parser.add_argument("--kernel-rounds", type=int, default=10, help="kernel starts of each kind")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        course = copy_course(Path(tmp) / "course")
        done = nbgrader(course, "generate_assignment", A)
        assert done.returncode == 0, done.stderr
        sol = solutions(course, A)
        kinds = {
            "full": sol,
            "partial": dict(sol, lecture=replaced(sol["lecture"], "along_w1.tangent, along_w2.tangent",
                                                  "along_w2.tangent, along_w1.tangent")),
            "blank": {},
        }

        # 1. start-up: a run that finds nothing to grade
        startup, _ = autograde(course)

        # 2. the class, sandboxed (the default), then the same class without the sandbox
        names = list(kinds)
        for i in range(args.students):
            kind = names[i % len(names)] if i % 5 == 4 else "full"  # mostly full, some partial/blank
            submit(course, A, f"student{i:02d}", submission(course, A, kinds[kind]))
        total, done = autograde(course)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "kernels run in the bubblewrap sandbox" in done.stderr, done.stderr[-3000:]
        per_student = total / args.students
        per_student_net = (total - startup) / args.students
        shutil.rmtree(course / "autograded")
        plain_total, done = autograde(course, "--Sandbox.enabled=False", "--force")
        assert done.returncode == 0, done.stderr[-3000:]
        plain_per_student = plain_total / args.students

        # 3. the sandbox's cost per kernel start
        sandboxed, plain = kernel_starts(course, args.kernel_rounds)

        # 4. hangs: one hanging test cell; every cell hanging (the notebook timeout caps it)
        loop = "def lecture_gradient(w1, w2):\n    while True:\n        pass\n"
        hang_all = replaced(sol["dual"], "    def __add__(self, other):\n",
                            "    def __add__(self, other):\n        while True:\n            pass\n")
        cell, notebook = args.timeout, int(1.5 * args.timeout)
        limits = (f"--Execute.timeout={cell}", f"--ResilientExecute.notebook_timeout={notebook}")
        runs = {}
        for label, student, answers in (("honest", "honest", sol),
                                        ("one hanging cell", "hang_one", dict(sol, lecture=loop)),
                                        ("every cell hanging", "hang_all", dict(sol, dual=hang_all))):
            submit(course, A, student, submission(course, A, answers))
            runs[label], done = autograde(course, f"--student={student}", *limits)
            assert done.returncode == 0, done.stderr[-3000:]

    print(f"nbgrader autograde, assignment {A}, course configuration (exercises/nbgrader_config.py)")
    print(f"  start-up (nothing to grade)              {startup:7.1f} s")
    print(f"  class of {args.students} honest submissions, one run   {total:7.1f} s   (sandboxed)")
    print(f"  per submission, start-up included        {per_student:7.2f} s   (target <= 2 s)")
    print(f"  per submission, start-up excluded        {per_student_net:7.2f} s")
    print(f"  the same class without the sandbox       {plain_per_student:7.2f} s per submission "
          f"({per_student - plain_per_student:+.2f} s for the sandbox)")
    print(f"  kernel start, median of {args.kernel_rounds} each, in turn: sandboxed "
          f"{statistics.median(sandboxed):.2f} s, plain {statistics.median(plain):.2f} s -> "
          f"{statistics.median(sandboxed) - statistics.median(plain):+.3f} s per kernel for the sandbox")
    print(f"  hangs, with a cell timeout of {cell} s and a notebook timeout of {notebook} s:")
    for label in ("one hanging cell", "every cell hanging"):
        extra = runs[label] - runs["honest"]
        bound = cell if label == "one hanging cell" else notebook
        print(f"    {label:20s} {runs[label]:6.1f} s, {extra:+5.1f} s over an honest one "
              f"(its timeout: {bound} s) -> {'within' if extra <= bound + 2 else 'OVER'}")
    verdict = per_student <= 2.0
    print(f"  target per honest submission: {'met' if verdict else 'missed'}")


if __name__ == "__main__":
    main()
