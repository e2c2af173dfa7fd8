"""Grade the written answers of an assignment in a spreadsheet instead of Formgrader.

``export`` writes one row per student and written answer: the student, the cell, its points,
the answer as the student wrote it (from ``autograded/``), and empty ``score`` and ``comment``
columns (or what is already in the gradebook). Fill them in with any spreadsheet, then
``import`` puts the scores and comments into the gradebook, as Formgrader would: the scores
count in ``nbgrader export`` and the comments show in the feedback. A file with a mistake
(an unknown student or cell, a score that is not a number between 0 and the cell's points)
changes nothing: every mistake is listed with its line.

Run from the course folder (``exercises/``):

    python autograder/written_answers.py export a1_finite_differences written.csv
    python autograder/written_answers.py import a1_finite_differences written.csv
"""
import argparse
import csv
import sys
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

COLUMNS = ("student", "notebook", "cell", "points", "score", "comment", "answer")


def _written_cells(gb, assignment):
    """(notebook, cell name, points) of every manually graded cell of the assignment."""
    return [(notebook.name, cell.name, cell.max_score)
            for notebook in gb.find_assignment(assignment).notebooks
            for cell in notebook.grade_cells if cell.name in {s.name for s in notebook.solution_cells}]


def _answers(course, student, assignment, notebook):
    """{cell name: source} of the student's notebook as it was graded."""
    path = course / "autograded" / student / assignment / f"{notebook}.ipynb"
    if not path.exists():
        return {}
    cells = nbformat.read(str(path), as_version=4).cells
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source for cell in cells}


def export(course, gb, assignment, path):
    cells = _written_cells(gb, assignment)
    rows = []
    for submission in gb.assignment_submissions(assignment):
        student = submission.student.id
        for notebook, cell, points in cells:
            grade = gb.find_grade(cell, notebook, assignment, student)
            comment = gb.find_comment(cell, notebook, assignment, student)
            rows.append({"student": student, "notebook": notebook, "cell": cell, "points": f"{points:g}",
                         "score": "" if grade.manual_score is None else f"{grade.manual_score:g}",
                         "comment": comment.manual_comment or "",
                         "answer": _answers(course, student, assignment, notebook).get(cell, "")})
    rows.sort(key=lambda row: (row["student"], row["notebook"], row["cell"]))
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{path}: {len(rows)} written answers of {len(rows) // max(len(cells), 1)} submissions "
          f"({len(cells)} a submission); fill in 'score' (and 'comment'), then run import")


def _read_scores(gb, assignment, path):
    """The rows to store, or every mistake in the file with its line number."""
    with open(path, newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        missing = {"student", "notebook", "cell", "score"} - set(reader.fieldnames or ())
        if missing:
            return [], [f"{path}: no column {', '.join(sorted(missing))} (export writes them)"]
        rows, mistakes = [], []
        for line, row in enumerate(reader, start=2):
            where = f"{path}, line {line} ({row['student']}, {row['cell']})"
            try:
                grade = gb.find_grade(row["cell"], row["notebook"], assignment, row["student"])
            except MissingEntry:
                mistakes.append(f"{where}: no such submission or written answer in {assignment}")
                continue
            text = (row["score"] or "").strip().replace(",", ".")  # 1,5 as well as 1.5
            try:
                score = None if text == "" else float(text)
            except ValueError:
                mistakes.append(f"{where}: the score {row['score']!r} is not a number")
                continue
            if score is not None and not 0 <= score <= grade.max_score:
                mistakes.append(f"{where}: the score {score:g} is outside 0 to {grade.max_score:g}")
                continue
            rows.append((row, grade, score))
        return rows, mistakes


def import_(gb, assignment, path):
    rows, mistakes = _read_scores(gb, assignment, path)
    if mistakes:
        sys.exit("nothing was changed:\n" + "\n".join(mistakes))
    scored = 0
    for row, grade, score in rows:
        grade.manual_score = score
        grade.needs_manual_grade = score is None and grade.auto_score is None  # as Formgrader does
        scored += score is not None
        if (row.get("comment") or "").strip():
            gb.find_comment(row["cell"], row["notebook"], assignment, row["student"]).manual_comment = \
                row["comment"].strip()
    gb.db.commit()
    print(f"{assignment}: {scored} written answers scored, {len(rows) - scored} left to grade")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("export", "import"))
    parser.add_argument("assignment")
    parser.add_argument("csv", type=Path)
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="the course folder (default: here)")
    args = parser.parse_args(argv)
    gradebook = args.course / "gradebook.db"
    if not gradebook.exists():
        sys.exit(f"no gradebook at {gradebook}: run this from the course folder after nbgrader autograde")
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        try:
            gb.find_assignment(args.assignment)
        except MissingEntry:
            sys.exit(f"{args.assignment}: not in the gradebook (run nbgrader generate_assignment first)")
        if args.action == "export":
            export(args.course, gb, args.assignment, args.csv)
        else:
            import_(gb, args.assignment, args.csv)


if __name__ == "__main__":
    main()
