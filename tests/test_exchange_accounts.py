"""A term through nbgrader's exchange, run by real Unix accounts: one instructor, three students.

Everything is nbgrader's own commands, each run as the account it belongs to: the instructor
generates and releases assignment 2, the students fetch it, edit it and submit it twice (the
later submission counts), the deadline passes before one student's second submission, the
instructor collects, autogrades, generates and releases feedback, and the students fetch it.

The exchange is a folder of a fresh temporary folder, given to nbgrader as `Exchange.root`, with
the permissions nbgrader's exchange sets and checks (the root 0777; the course's inbound 2733, so
a student can hand in but not list; feedback 0711, files named by a hash only their owner can
compute). Homes are 0700. The test asserts the scores, the late flag and penalty as nbgrader's
LateSubmissionPlugin gives them, and that no student can read another's submission or feedback,
nor, at any step, the instructor's gradebook.
"""
import csv
import datetime
import json
import os
import re
import sqlite3
import time
import stat

import pytest

import class_accounts
from class_accounts import Class
from grading_course import EXERCISES, REPO, replaced, solutions

A = "a2_forward_mode"
COURSE_ID = "adcourse"
SKIP = class_accounts.skip_reason()
pytestmark = pytest.mark.skipif(SKIP is not None, reason=SKIP or "")

# The edit a student makes: fill solution cells of the fetched notebook ({grade_id: code}).
EDIT = """
import json, sys, nbformat
path, answers = sys.argv[1], json.loads(sys.stdin.read())
nb = nbformat.read(path, as_version=4)
for cell in nb.cells:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    if grade_id in answers:
        cell.source = answers[grade_id]
nbformat.write(nb, path)
"""

# What an account can do with each path: "listed"/"read", "denied", or "missing".
PROBE = """
import json, os, sys
seen = {}
for path in json.loads(sys.stdin.read()):
    try:
        if os.path.isdir(path):
            os.listdir(path)
            seen[path] = "listed"
        else:
            with open(path, "rb") as handle:
                handle.read(1)
            seen[path] = "read"
    except PermissionError:
        seen[path] = "denied"
    except FileNotFoundError:
        seen[path] = "missing"
print(json.dumps(seen))
"""


def _probe(account, paths):
    done = account.python(PROBE, input=json.dumps([str(p) for p in paths]))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def term():
    with Class(["teacher", "s1", "s2", "s3"]) as klass:
        yield from _run_term(klass)
    assert klass.leftovers() == []


def _run_term(klass):
    teacher, students = klass["teacher"], [klass[s] for s in ("s1", "s2", "s3")]
    exchange = klass.base / "exchange"
    os.mkdir(exchange)
    os.chmod(exchange, 0o777)  # as nbgrader's docs ask; ours, inside our own temporary folder
    course = teacher.home / "course"
    flags = [f"--Exchange.root={exchange}"]
    student_flags = [*flags, f"--course={COURSE_ID}"]
    log, timings = [], []
    gradebook_seen = []

    def teacher_runs(*args):
        start = time.perf_counter()
        log.append(teacher.nbgrader(*args, *flags, cwd=course))
        timings.append((f"teacher: {args[0]}", time.perf_counter() - start))
        # After every instructor command: no student can open the gradebook or its backups.
        gradebook_seen.append((args[0], _probe(students[0], [course / "gradebook.db",
                                                             course / "gradebook.db.backups"])))

    copied = teacher.python(
        f"import sys; sys.path.insert(0, {str(REPO / 'tests')!r}); "
        f"from grading_course import copy_course; copy_course({str(course)!r})")
    assert copied.returncode == 0, copied.stderr
    teacher_runs("generate_assignment", A)
    teacher_runs("release_assignment", A)

    sol = solutions(EXERCISES, A)
    partial = dict(sol, lecture=replaced(sol["lecture"], "along_w1.tangent, along_w2.tangent",
                                         "along_w2.tangent, along_w1.tangent"))
    # (first submission, second submission): the second one counts.
    plans = {"s1": ({}, sol), "s2": (sol, partial), "s3": (partial, sol)}
    for student in students:
        student.nbgrader("fetch_assignment", A, *student_flags)
    notebook = {s.name: s.home / A / f"{A}.ipynb" for s in students}

    def edit_and_submit(student, answers):
        edited = student.python(EDIT, notebook[student.name], input=json.dumps(answers))
        assert edited.returncode == 0, edited.stderr
        student.nbgrader("submit", A, *student_flags, cwd=student.home)

    for student, role in zip(students, ("s1", "s2", "s3")):
        edit_and_submit(student, plans[role][0])
    for student, role in zip(students[:2], ("s1", "s2")):
        edit_and_submit(student, plans[role][1])
    # The deadline falls here, between the on-time submissions and s3's second one. Set with
    # nbgrader's own command (as an instructor extending a deadline would), so no test waits.
    due = datetime.datetime.now(datetime.timezone.utc)
    edit_and_submit(students[2], plans["s3"][1])
    teacher_runs("db", "assignment", "add", A, f"--duedate={due:%Y-%m-%d %H:%M:%S.%f} UTC")

    teacher_runs("collect", A)
    teacher_runs("autograde", A, "--LateSubmissionPlugin.penalty_method=zero")
    teacher_runs("generate_feedback", A)
    teacher_runs("release_feedback", A)
    teacher_runs("export")
    for student in students:
        student.nbgrader("fetch_feedback", A, *student_flags, cwd=student.home)
    yield {"class": klass, "teacher": teacher, "students": students, "exchange": exchange, "course": course,
           "notebook": notebook, "due": due, "log": log, "gradebook_seen": gradebook_seen}
    print("seconds per instructor command:", ", ".join(f"{what} {sec:.1f}" for what, sec in timings))


def _feedback_pages(student):
    return sorted((student.home / A / "feedback").glob(f"*/{A}.html"))


def test_scores_count_the_later_submission_and_the_late_one_gets_nbgraders_penalty(term):
    with open(term["course"] / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    s1, s2, s3 = (s.name for s in term["students"])
    assert set(rows) == {s1, s2, s3}
    # s1: blank, then full -> 8 of 8 autograded points; s2: full, then one test wrong -> 6;
    # s3: one test wrong on time, then full after the deadline -> 8, all taken back ('zero').
    assert float(rows[s1]["raw_score"]) == 8.0 and float(rows[s1]["score"]) == 8.0
    assert float(rows[s2]["raw_score"]) == 6.0 and float(rows[s2]["score"]) == 6.0
    assert float(rows[s3]["raw_score"]) == 8.0
    assert float(rows[s3]["late_submission_penalty"]) == 8.0 and float(rows[s3]["score"]) == 0.0
    for name in (s1, s2):
        assert float(rows[name]["late_submission_penalty"] or 0) == 0.0
    assert all(float(row["max_score"]) == 10.0 for row in rows.values())


def test_only_the_late_submission_is_flagged_late(term):
    s1, s2, s3 = (s.name for s in term["students"])
    timestamps = {}
    for name in (s1, s2, s3):
        stamp = (term["course"] / "submitted" / name / A / "timestamp.txt").read_text().strip()
        timestamps[name] = datetime.datetime.strptime(stamp.replace(" UTC", ""), "%Y-%m-%d %H:%M:%S.%f") \
            .replace(tzinfo=datetime.timezone.utc)
    assert timestamps[s1] < term["due"] and timestamps[s2] < term["due"] < timestamps[s3]
    uri = f"file:{term['course'] / 'gradebook.db'}?mode=ro"
    with sqlite3.connect(uri, uri=True) as db:  # a read-only look: nothing written beside it
        late = dict(db.execute(
            "select student.id, submitted_assignment.timestamp > assignment.duedate "
            "from submitted_assignment join student on student.id = submitted_assignment.student_id "
            "join assignment on assignment.id = submitted_assignment.assignment_id"))
    assert late == {s1: 0, s2: 0, s3: 1}


def test_every_student_fetched_their_own_feedback_with_their_own_score(term):
    s1, s2, s3 = term["students"]
    for student, score, penalty in ((s1, "8.0", None), (s2, "6.0", None), (s3, "0.0", "-8.0")):
        pages = _feedback_pages(student)
        assert len(pages) == 1, (student.name, pages)  # the later submission's only
        text = pages[0].read_text(encoding="utf-8")
        assert f"(Score: {score} / 10.0)" in text, student.name
        late = re.search(r'class="late-penalty">Late submission penalty \(Score: (\S+)\)', text)
        assert (late and late.group(1)) == penalty, student.name
        assert stat.S_IMODE(os.stat(student.home).st_mode) == 0o700


def test_no_student_can_read_another_students_submission_or_feedback(term):
    s1, s2, s3 = term["students"]
    exchange, course = term["exchange"] / COURSE_ID, term["course"]
    def others_of(student):
        return [exchange / "inbound", exchange / "feedback", student.home, term["notebook"][student.name],
                *_feedback_pages(student), course, course / "submitted" / student.name / A / f"{A}.ipynb",
                course / "feedback" / student.name / A / f"{A}.html", course / "source" / A / f"{A}.ipynb"]
    for reader, victim in ((s1, s2), (s2, s3), (s3, s1)):
        paths = others_of(victim)
        for path in paths:  # they exist: a refusal is a refusal, not a missing file
            assert path.exists(), path
        seen = _probe(reader, paths)
        assert set(seen.values()) == {"denied"}, (reader.name, seen)
    # The same probe, by the owner, on their own files: it can tell "read" from "denied".
    own = _probe(s1, [s1.home, term["notebook"][s1.name], *_feedback_pages(s1)])
    assert set(own.values()) <= {"listed", "read"}, own
    # nbgrader's exchange as it documents it: the students hand in to a folder they cannot list.
    assert stat.S_IMODE(os.stat(exchange / "inbound").st_mode) == 0o2733
    assert stat.S_IMODE(os.stat(exchange / "feedback").st_mode) == 0o711


def test_the_gradebook_is_never_readable_by_a_student(term):
    seen = term["gradebook_seen"]
    assert [step for step, _ in seen][:2] == ["generate_assignment", "release_assignment"]
    for step, result in seen:
        assert set(result.values()) <= {"denied", "missing"}, (step, result)
    assert "denied" in seen[0][1].values()  # the gradebook exists from the first step on
    assert all(result[str(term["course"] / "gradebook.db")] == "denied" for _, result in seen)


def test_autograde_ran_as_the_instructor_with_every_kernel_sandboxed(term):
    autograde = next(done for done in term["log"] if "autograde" in done.args)
    assert "[adgrader] kernels run in the bubblewrap sandbox" in autograde.stderr, autograde.stderr[-3000:]

