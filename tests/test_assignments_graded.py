"""Assignments 6 to 9 through nbgrader's own commands, in ONE autograde run.

For each assignment two students submit: `full` (the instructor's solutions: every autograded
point) and `mixed`, one of each kind of trouble, a task each: a blank answer (the release's
`raise NotImplementedError()`), a wrong answer that the visible tests may let through, a cell
the answer-cell policy refuses to run, and a correct answer. The gradebook must show exactly
the points the correct tasks earn, and each failed test must fail for its own reason.
"""
import re

import pytest

from grading_course import copy_course, nbgrader, read, replaced, solutions, submission, submit, grade_id

# assignment -> (test cells in order, points of each)
TESTS = {
    "a6_mds_gradient": ("test_mds_gradient", "test_mds_descent", "test_procrustes", "test_classical_mds"),
    "a7_choosing_a_mode": ("test_jacobian_forward", "test_jacobian_reverse", "test_cost_model", "test_waist"),
    "a8_beyond_the_chain_rule": ("test_symbolic", "test_tape", "test_ridge", "test_softplus", "test_logistic"),
    "a9_mock_exam": ("test_fd", "test_forward", "test_backward", "test_hutchinson"),
}
# The `mixed` student: per test cell, the points it earns and what its output must show; and
# the one answer cell the policy refuses (its test then finds its function undefined).
MIXED = {
    "a6_mds_gradient": {"test_mds_gradient": (2, None), "test_mds_descent": (0, "one step from W0"),
                        "test_procrustes": (0, "NameError"), "test_classical_mds": (0, "NotImplementedError")},
    "a7_choosing_a_mode": {"test_jacobian_forward": (0, "forward sweeps"), "test_jacobian_reverse": (2, None),
                           "test_cost_model": (0, "NotImplementedError"), "test_waist": (0, "NameError")},
    "a8_beyond_the_chain_rule": {"test_symbolic": (0, "NotImplementedError"), "test_tape": (2, None),
                                 "test_ridge": (0, "dl/dmu"), "test_softplus": (2, None),
                                 "test_logistic": (0, "NameError")},
    "a9_mock_exam": {"test_fd": (0, "expected 3 evaluations of f, got 4"), "test_forward": (2, None),
                     "test_backward": (0, "NameError"), "test_hutchinson": (0, "NotImplementedError")},
}
REFUSED = {"a6_mds_gradient": "procrustes_answer", "a7_choosing_a_mode": "waist_answer",
           "a8_beyond_the_chain_rule": "logistic_answer", "a9_mock_exam": "backward_answer"}


def _mixed(sol, assignment):
    """The `mixed` student's answer cells, from the solutions; a blank one is left out, so
    the release's cell (its `raise NotImplementedError()`) stays."""
    if assignment == "a6_mds_gradient":
        cells = dict(sol, mds_descent_answer=replaced(sol["mds_descent_answer"], "range(n_steps)", "range(n_steps + 1)"),
                     procrustes_answer="from scipy.linalg import orthogonal_procrustes\n" + sol["procrustes_answer"])
        blank = "classical_mds_answer"
    elif assignment == "a7_choosing_a_mode":
        cells = dict(sol, jacobian_forward_answer=replaced(  # right values, 2n sweeps
                         sol["jacobian_forward_answer"], "_, column = adcourse.jvp(f, (x,), (e,))",
                         "adcourse.jvp(f, (x,), (e,))\n        _, column = adcourse.jvp(f, (x,), (e,))"),
                     waist_answer="def waist_jacobian(h, g, w):\n    return adcourse.jacfwd(lambda v: g(h(v)))(w)\n")
        blank = "cost_model_answer"
    elif assignment == "a8_beyond_the_chain_rule":
        cells = dict(sol, ridge_answer=replaced(sol["ridge_answer"], "-float(lam @ x)", "float(lam @ x)"),
                     logistic_answer="import os\n" + sol["logistic_answer"])
        blank = "symbolic_answer"
    else:
        cells = dict(sol, fd_answer=replaced(sol["fd_answer"], "f0, plus, minus = f(x), f(x + step), f(x - step)",
                                             "f0, plus, minus = f(x), f(x + step), f(x - step)\n    f(x)"),
                     backward_answer="import jax\n" + sol["backward_answer"])
        blank = "hutchinson_answer"
    del cells[blank]
    return cells


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("course"))
    done = nbgrader(course, "generate_assignment", "*")
    assert done.returncode == 0, done.stderr
    for assignment in TESTS:
        sol = solutions(course, assignment)
        submit(course, assignment, "full", submission(course, assignment, sol))
        submit(course, assignment, "mixed", submission(course, assignment, _mixed(sol, assignment)))
    for student in ("full", "mixed"):
        assert nbgrader(course, "db", "student", "add", student).returncode == 0
    autograde = nbgrader(course, "autograde", "*")  # every assignment with submissions, one run
    return course, autograde


def _grades(course, assignment, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(assignment, student)
        return {g.name: g.auto_score for g in sub.notebooks[0].grades}, sub.max_score


def _output(course, assignment, student, test):
    nb = read(course / "autograded" / student / assignment / f"{assignment}.ipynb")
    cell = next(c for c in nb.cells if grade_id(c) == test)
    return " ".join(" ".join([o.get("ename", ""), o.get("evalue", ""), o.get("text", ""), *o.get("traceback", [])])
                    for o in cell.outputs)


@pytest.mark.parametrize("assignment", sorted(TESTS))
def test_the_solutions_get_every_autograded_point(graded, assignment):
    course, autograde = graded
    assert autograde.returncode == 0, autograde.stderr[-3000:]
    grades, _ = _grades(course, assignment, "full")
    source = read(course / "source" / assignment / f"{assignment}.ipynb")
    points = {grade_id(c): c.metadata["nbgrader"]["points"] for c in source.cells
              if c.metadata["nbgrader"].get("grade") and c.cell_type == "code"}
    assert set(points) == set(TESTS[assignment])
    assert {t: grades[t] for t in points} == {t: float(p) for t, p in points.items()}, autograde.stderr[-3000:]
    assert not re.search(rf"\[{assignment}/full\]", autograde.stderr), "the solutions broke a rule"


@pytest.mark.parametrize("assignment", sorted(TESTS))
def test_each_kind_of_trouble_costs_only_its_own_task(graded, assignment):
    course, autograde = graded
    grades, _ = _grades(course, assignment, "mixed")
    for test, (points, reason) in MIXED[assignment].items():
        assert grades[test] == float(points), (test, grades[test], _output(course, assignment, "mixed", test)[-2000:])
        if reason:
            assert reason in _output(course, assignment, "mixed", test), (test, _output(course, assignment, "mixed", test)[-2000:])
    refused = re.findall(rf"\[{assignment}/mixed\] The autograder did not run cell `(\w+)`", autograde.stderr)
    assert refused == [REFUSED[assignment]], refused
