"""The fairness corpus: correct work written differently from the instructor's gets every point.

`tests/fairness/<assignment_id>.py` holds, for one assignment, a list `VARIANTS` of whole
submissions, each a dict `{answer cell grade_id: source}` that fills every code answer cell of
the released notebook. A variant is written as a student who read the chapters (but not the
instructor's solutions) would write it: another algorithm, other types (lists, numpy or Python
scalars, a sequence other than the one the instructions name), another style. Every answer
cell must have at least three different correct sources across the variants, none of them the
instructor's.

Every file found there (the assignments of other authors too) is picked up: all variants of
all assignments are released from one copy of the course and graded as separate students by
ONE `nbgrader autograde` run, and each must get every autograded point, with no cell refused by
the rules for answer cells and no tampering reported. The wrong answers that must still lose
their points are in tests/test_assignments.py (WRONG) and tests/test_nbgrader_workflow.py.
"""
import importlib.util
import re
from pathlib import Path

import pytest

from grading_course import EXERCISES, copy_course, grade_id, nbgrader, read, solutions, submission, submit

CORPUS = Path(__file__).resolve().parent / "fairness"
MIN_VARIANTS = 3


def _load(path):
    spec = importlib.util.spec_from_file_location(f"fairness_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VARIANTS


def corpus():
    """{assignment_id: VARIANTS} for every tests/fairness/<assignment_id>.py."""
    return {path.stem: _load(path) for path in sorted(CORPUS.glob("*.py"))
            if not path.name.startswith(("_", "test_"))}


def student(assignment, index):
    """The student id of variant `index` (from 1) of an assignment: `fair-a1-1`."""
    return f"fair-{assignment.split('_')[0]}-{index}"


CASES = [(assignment, index) for assignment, variants in corpus().items()
         for index in range(1, len(variants) + 1)]


def _answer_cells(assignment):
    nb = read(EXERCISES / "source" / assignment / f"{assignment}.ipynb")
    return [grade_id(c) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def _normalized(source):
    return "\n".join(line.rstrip() for line in source.strip().splitlines() if line.strip())


@pytest.mark.parametrize("assignment", sorted(corpus()))
def test_the_corpus_has_three_different_correct_solutions_of_every_task(assignment):
    assert (EXERCISES / "source" / assignment).is_dir(), f"no assignment {assignment} in exercises/source"
    variants = corpus()[assignment]
    assert isinstance(variants, list) and len(variants) >= MIN_VARIANTS, len(variants)
    cells = _answer_cells(assignment)
    instructor = {name: _normalized(source) for name, source in solutions(EXERCISES, assignment).items()}
    for number, variant in enumerate(variants, 1):
        unknown = set(variant) - set(instructor)
        assert not unknown, f"variant {number}: {sorted(unknown)} are not answer cells of {assignment}"
        missing = [name for name in cells if name not in variant]
        assert not missing, f"variant {number} is not a whole submission: no {missing}"
    for name in cells:
        sources = {_normalized(variant[name]) for variant in variants}
        assert len(sources) >= MIN_VARIANTS, f"`{name}`: only {len(sources)} different sources"
        assert instructor[name] not in sources, f"`{name}`: a variant is the instructor's solution"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every variant of every assignment, released from one course and graded in one run."""
    course = copy_course(tmp_path_factory.mktemp("fairness"))
    done = nbgrader(course, "generate_assignment", "*")
    assert done.returncode == 0, done.stderr[-3000:]
    for assignment, variants in corpus().items():
        for index, variant in enumerate(variants, 1):
            submit(course, assignment, student(assignment, index), submission(course, assignment, variant))
    autograde = nbgrader(course, "autograde", "*", timeout=3600)
    assert autograde.returncode == 0, autograde.stderr[-5000:]
    return course, autograde.stderr


def _failures(course, assignment, who):
    """What the autograded notebook says about each test cell that lost points."""
    from nbgrader.api import Gradebook
    lost = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission(assignment, who).notebooks[0]
        tests = [grade for grade in notebook.grades if grade.cell_type == "code"]  # not the written answers
        for grade in tests:
            if grade.auto_score is None or grade.auto_score < grade.max_score:
                lost[grade.name] = f"{grade.auto_score}/{grade.max_score}"
        autograded_points = sum(grade.max_score for grade in tests)
    nb = read(course / "autograded" / who / assignment / f"{assignment}.ipynb")
    said = {}
    for cell in nb.cells:
        if grade_id(cell) in lost:
            said[grade_id(cell)] = " ".join(o.get("evalue", "") or o.get("text", "")[-300:] for o in cell.get("outputs", []))
    return lost, said, autograded_points


@pytest.mark.parametrize("assignment,index", CASES, ids=[f"{a}-{i}" for a, i in CASES])
def test_a_correct_variant_gets_every_autograded_point(graded, assignment, index):
    course, log = graded
    who = student(assignment, index)
    lost, said, points = _failures(course, assignment, who)
    assert points > 0
    assert not lost, {name: (lost[name], said.get(name)) for name in lost}
    problems = [line for line in log.splitlines() if re.search(rf"\[{assignment}/{who}\]", line)]
    assert not problems, problems
