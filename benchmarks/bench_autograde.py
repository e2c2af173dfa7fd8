"""How long `nbgrader autograde` takes for a class, with the course's configuration.

On a temporary copy of the course (assignment 2, forward mode):
1. nbgrader's fixed start-up cost (a run with nothing to grade);
2. a class of 30 honest submissions (full, partly wrong and blank ones) in one run:
   seconds per submission, with and without the start-up;
3. one honest submission against one that hangs in one test cell, and against one that
   hangs in every cell: the extra time, next to the cell timeout and the notebook timeout.

Target: at most 3 s per honest submission on average over the class, and a hanging
submission costing no more than its timeout.

    .venv/bin/python benchmarks/bench_autograde.py [--students 30] [--timeout 10]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from grading_course import copy_course, nbgrader, replaced, solutions, submission, submit  # noqa: E402

A = "a2_forward_mode"


def autograde(course, *extra):
    start = time.perf_counter()
    done = nbgrader(course, "autograde", A, *extra, timeout=3600)
    return time.perf_counter() - start, done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--timeout", type=int, default=10, help="Execute.timeout for the hang runs (s)")
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

        # 2. the class
        names = list(kinds)
        for i in range(args.students):
            kind = names[i % len(names)] if i % 5 == 4 else "full"  # mostly full, some partial/blank
            submit(course, A, f"student{i:02d}", submission(course, A, kinds[kind]))
        total, done = autograde(course)
        assert done.returncode == 0, done.stderr[-3000:]
        per_student = total / args.students
        per_student_net = (total - startup) / args.students

        # 3. hangs: one hanging test cell; every cell hanging (the notebook timeout caps it)
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
    print(f"  class of {args.students} honest submissions, one run   {total:7.1f} s")
    print(f"  per submission, start-up included        {per_student:7.2f} s   (target <= 3 s)")
    print(f"  per submission, start-up excluded        {per_student_net:7.2f} s")
    print(f"  hangs, with a cell timeout of {cell} s and a notebook timeout of {notebook} s:")
    for label in ("one hanging cell", "every cell hanging"):
        extra = runs[label] - runs["honest"]
        bound = cell if label == "one hanging cell" else notebook
        print(f"    {label:20s} {runs[label]:6.1f} s, {extra:+5.1f} s over an honest one "
              f"(its timeout: {bound} s) -> {'within' if extra <= bound + 2 else 'OVER'}")
    verdict = per_student <= 3.0
    print(f"  target per honest submission: {'met' if verdict else 'missed'}")


if __name__ == "__main__":
    main()
