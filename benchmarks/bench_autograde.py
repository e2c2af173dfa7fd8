"""How long `nbgrader autograde` takes for a class, with the course's configuration, and where
each submission's seconds go.

On a temporary copy of the course, for each assignment asked (a1 and a2 by default):
1. nbgrader's fixed start-up cost (a run with nothing to grade);
2. a class of 30 honest submissions (full, partly wrong and blank ones) in one run, with
   every kernel in the bubblewrap sandbox (the course's default): seconds per submission,
   with and without the start-up;
3. the same class again with the instrumentation hook on (autograde_timing.py, and
   kernel_probe.py inside each kernel): the seconds of each stage per submission, measured
   (kernel start and what kernel_startup.py imports, the hidden checks' imports, the
   StudentCodePolicy pass, the rest of sanitize, the cells, the kernel's shutdown, the
   gradebook's save), and `nbgrader generate_feedback` per submission;
then, for the first assignment only:
4. the same class without the sandbox, and the sandbox's own cost per kernel start
   (sandboxed and plain kernels started in turn);
5. one honest submission against one that hangs in one test cell, and against one that
   hangs in every cell: the extra time, next to the cell timeout and the notebook timeout.

`--compare-with OTHER/exercises` grades the same class, in the same run and in turn, with
another checkout's configuration and autograder (before/after a change, under the same load).

Target: at most 2 s per honest submission on average over the class (sandboxed), and a
hanging submission costing no more than its timeout.

    .venv/bin/python benchmarks/bench_autograde.py [--students 30] [--assignments a2_forward_mode ...]
        [--timeout 10] [--no-plain] [--no-hangs] [--compare-with ../other/exercises] [--save-timings DIR]
"""
import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from grading_course import copy_course, nbgrader, replaced, solutions, submission, submit  # noqa: E402


A = "a2_forward_mode"  # the assignment of the hang runs and of the sandbox's own cost
ASSIGNMENTS = ("a1_finite_differences", A)
BENCHMARKS = Path(__file__).resolve().parent

# Appended to the temporary course's nbgrader_config.py: the instrumentation hook, on only while
# ADGRADER_TIMINGS names a file (the instrumented runs).
TIMING_CONFIG = f"""

# --- benchmarks/bench_autograde.py: where each submission's seconds go -----------------------
if os.environ.get("ADGRADER_TIMINGS"):
    sys.path.insert(0, {str(BENCHMARKS)!r})
    import autograde_timing
    autograde_timing.install()
    c.Execute.extra_arguments = autograde_timing.probe_arguments(GRADER)
"""


def course_copy(folder, exercises=None):
    """The course (this checkout's, or ``exercises`` of another one) with the hook and the probe."""
    if exercises is None:
        course = copy_course(folder)
    else:
        course = Path(folder)
        course.mkdir(parents=True)
        shutil.copy(Path(exercises) / "nbgrader_config.py", course)
        for name in ("source", "autograder"):
            shutil.copytree(Path(exercises) / name, course / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    with open(course / "nbgrader_config.py", "a") as handle:
        handle.write(TIMING_CONFIG)
    shutil.copy(BENCHMARKS / "kernel_probe.py", course / "autograder")
    return course


def load():
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


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


def autograde(course, assignment, *extra, timings=None, check=True):
    start = time.perf_counter()
    env = {"ADGRADER_TIMINGS": str(timings)} if timings else {}
    done = nbgrader(course, "autograde", assignment, *extra, timeout=3600, **env)
    assert done.returncode == 0 or not check, done.stderr[-3000:]
    return time.perf_counter() - start, done


def build_class(course, assignment, students):
    """generate_assignment, then a class of full, partly blank and blank submissions."""
    done = nbgrader(course, "generate_assignment", assignment)
    assert done.returncode == 0, done.stderr
    sol = solutions(course, assignment)
    last = list(sol)[-1]
    kinds = {"full": sol, "partial": {k: v for k, v in sol.items() if k != last}, "blank": {}}
    names = list(kinds)
    for i in range(students):
        kind = names[i % len(names)] if i % 5 == 4 else "full"  # mostly full, some partial/blank
        submit(course, assignment, f"student{i:02d}", submission(course, assignment, kinds[kind]))
    return sol


def breakdown(path, students):
    """{stage: seconds per submission} from the hook's records (kernel imports summed by module)."""
    totals = {}
    for line in Path(path).read_text().splitlines():
        entry = json.loads(line)
        if entry["command"] == "autograde" or entry["stage"] == "feedback":
            totals[entry["stage"]] = totals.get(entry["stage"], 0.0) + entry["seconds"]
    return {stage: seconds / students for stage, seconds in totals.items()}


def print_breakdown(stages, run_per_student, feedback_per_student):
    """The stages in the order a submission meets them, the kernel's imports under its start."""
    def get(name):
        return stages.get(name, 0.0)

    sanitize = {k: v for k, v in stages.items() if k.startswith("sanitize: ")}
    autograde = {k: v for k, v in stages.items() if k.startswith("autograde: ")}
    cells = {k: v for k, v in stages.items() if k.startswith("execute: cells, ")}
    start_imports = sorted(((v, k[7:-11]) for k, v in stages.items() if k.endswith(" (start-up)")), reverse=True)
    cell_imports = sorted(((v, k[7:-7]) for k, v in stages.items() if k.endswith(" (cells)")), reverse=True)
    kernel = get("execute: kernel start")
    execute_rest = get("execute: total") - kernel - sum(cells.values()) - get("execute: kernel shutdown")
    rows = [
        ("gradebook: the submission's rows (nbgrader)", get("gradebook: submission")),
        ("sanitize: StudentCodePolicy", get("sanitize: StudentCodePolicy")),
        ("sanitize: the rest (" + ", ".join(k[10:] for k in sanitize if k != "sanitize: StudentCodePolicy") + ")",
         sum(v for k, v in sanitize.items() if k != "sanitize: StudentCodePolicy")),
        ("kernel start, until it answers", kernel),
        ("  of which the process, Python and ipykernel", get("kernel: process and ipykernel")),
        ("  of which kernel_startup.py (" + ", ".join(f"{m} {v:.2f}" for v, m in start_imports) + ")",
         get("kernel: kernel_startup.py")),
        ("  of which the last steps until ready", get("kernel: until ready")),
        ("  (kernels started ahead: the wait left, all in)", get("kernel: started ahead, the wait left")),
    ]
    rows += [(f"cells: {k[16:]}", v) for k, v in sorted(cells.items())]
    rows += [("  of all cells, their imports (" + ", ".join(f"{m} {v:.2f}" for v, m in cell_imports[:4]) + ")",
              sum(v for v, _ in cell_imports))]
    rows += [("kernel shutdown", get("execute: kernel shutdown")),
             ("execute: the rest", execute_rest),
             ("gradebook: save the grades (SaveAutoGrades)", get("autograde: SaveAutoGrades")),
             ("autograde: the other preprocessors",
              sum(v for k, v in autograde.items() if k != "autograde: SaveAutoGrades")),
             ("write the graded notebook", get("write"))]
    measured = sum(v for label, v in rows if not label.startswith("  "))
    rows += [("nbgrader's start-up and loop, its share per submission", run_per_student - measured)]
    for label, seconds in rows:
        print(f"    {label:72s} {seconds:6.3f} s")
    print(f"    {'= autograde, per submission, start-up included (instrumented run)':72s} {run_per_student:6.3f} s")
    print(f"    {'generate_feedback, per submission':72s} {feedback_per_student:6.3f} s")


def grade_assignment(folder, assignment, args, variants):
    """Headline and breakdown figures of one assignment, for each course variant in turn."""
    courses = {label: course_copy(Path(folder) / label / assignment, exercises)
               for label, exercises in variants.items()}
    for course in courses.values():
        build_class(course, assignment, args.students)
    figures = {label: {} for label in courses}
    for label, course in courses.items():  # 1. start-up: a run that finds nothing to grade ...
        shutil.move(course / "submitted", course / "submitted.later")
        figures[label]["startup"], _ = autograde(course, assignment, check=False)
        shutil.move(course / "submitted.later", course / "submitted")
    for label, course in courses.items():  # 2. ... then the class, sandboxed
        total, done = autograde(course, assignment, check=False)  # a failed submission is counted
        assert "kernels run in the bubblewrap sandbox" in done.stderr, done.stderr[-3000:]
        figures[label]["total"] = total
        figures[label]["failed"] = done.stderr.count("There was an error processing assignment")
    for label, course in courses.items():  # 3. again, instrumented; then the feedback
        shutil.rmtree(course / "autograded")
        timings = Path(folder) / label / f"{assignment}.timings.jsonl"
        figures[label]["instrumented"], _ = autograde(course, assignment, "--force", timings=timings)
        start = time.perf_counter()
        done = nbgrader(course, "generate_feedback", assignment, timeout=3600, ADGRADER_TIMINGS=str(timings))
        assert done.returncode == 0, done.stderr[-3000:]
        figures[label]["feedback"] = time.perf_counter() - start
        figures[label]["stages"] = breakdown(timings, args.students)
        if args.save_timings:
            Path(args.save_timings).mkdir(parents=True, exist_ok=True)
            shutil.copy(timings, Path(args.save_timings) / f"{label}-{assignment}.jsonl")
    print(f"\n{assignment}, class of {args.students} ({load()})")
    for label, f in figures.items():
        n = args.students
        print(f"  [{label}] start-up (nothing to grade) {f['startup']:.1f} s; the class, sandboxed "
              f"{f['total']:.1f} s: {f['total'] / n:.2f} s per submission, start-up included "
              f"({(f['total'] - f['startup']) / n:.2f} s excluded; target <= 2 s: "
              f"{'met' if f['total'] / n <= 2.0 else 'missed'}); submissions nbgrader failed: {f['failed']}")
        stages = f["stages"]
        feedback = stages.get("feedback", 0.0)
        print(f"  [{label}] where a submission's seconds go (mean of {n}, sandboxed, instrumented run):")
        print_breakdown(stages, f["instrumented"] / n, feedback)
    return courses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--assignments", nargs="+", default=list(ASSIGNMENTS))
    parser.add_argument("--timeout", type=int, default=10, help="Execute.timeout for the hang runs (s)")
    parser.add_argument("--kernel-rounds", type=int, default=10, help="kernel starts of each kind")
    parser.add_argument("--no-plain", action="store_true", help="skip the class without the sandbox")
    parser.add_argument("--no-hangs", action="store_true", help="skip the hanging submissions")
    parser.add_argument("--save-timings", metavar="DIR", help="keep the hook's records (JSON lines) there")
    parser.add_argument("--compare-with", metavar="EXERCISES", help="another checkout's exercises/ folder")
    args = parser.parse_args()
    variants = {"this": None}
    if args.compare_with:
        variants["other"] = args.compare_with

    print(f"nbgrader autograde, course configuration (exercises/nbgrader_config.py); {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        for assignment in args.assignments:
            courses = grade_assignment(tmp, assignment, args, variants)
        course = courses["this"]
        if A not in args.assignments or (args.no_plain and args.no_hangs):
            return
        sol = solutions(course, A)
        if not args.no_plain:
            # 4. the same class without the sandbox; the sandbox's cost per kernel start
            sandboxed_total, _ = autograde(course, A, "--force")
            plain_total, _ = autograde(course, A, "--Sandbox.enabled=False", "--force")
            sandboxed, plain = kernel_starts(course, args.kernel_rounds)
            print(f"\nthe sandbox ({load()}): the class of {args.students} regraded sandboxed "
                  f"{sandboxed_total / args.students:.2f} s, then without the sandbox "
                  f"{plain_total / args.students:.2f} s per submission "
                  f"({(sandboxed_total - plain_total) / args.students:+.2f} s for the sandbox)")
            print(f"  kernel start, median of {args.kernel_rounds} each, in turn: sandboxed "
                  f"{statistics.median(sandboxed):.2f} s, plain {statistics.median(plain):.2f} s -> "
                  f"{statistics.median(sandboxed) - statistics.median(plain):+.3f} s per kernel for the sandbox")
        if not args.no_hangs:
            # 5. hangs: one hanging test cell; every cell hanging (the notebook timeout caps it)
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
                runs[label], _ = autograde(course, A, f"--student={student}", *limits)
            print(f"\nhangs ({A}), with a cell timeout of {cell} s and a notebook timeout of {notebook} s "
                  f"({load()}):")
            for label in ("one hanging cell", "every cell hanging"):
                extra = runs[label] - runs["honest"]
                bound = cell if label == "one hanging cell" else notebook
                print(f"    {label:20s} {runs[label]:6.1f} s, {extra:+5.1f} s over an honest one "
                      f"(its timeout: {bound} s) -> {'within' if extra <= bound + 2 else 'OVER'}")


if __name__ == "__main__":
    main()
