"""Write the rules for answer cells into every source notebook, from the list the autograder
applies (``adcourse.answer_cells``), so that what students read is what is checked:

- the ``rules`` cell: ``answer_cells.rules_markdown`` with the imports the notebook allows
  besides the common ones (its metadata ``{"adcourse": {"imports": {...}}}``);
- the last cell, ``check_answer_cells``: runs the autograder's own check of the answer cells
  on the saved notebook and prints what it would refuse.

    python exercises/autograder/write_rules.py           # rewrite what is out of date
    python exercises/autograder/write_rules.py --check   # only say what is (exit status 1)

Run it after changing ``adcourse/answer_cells.py`` or a notebook's allowed imports, and for a
new assignment (which gets both cells).
"""
import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from adcourse import answer_cells

SOURCE = Path(__file__).resolve().parent.parent / "source"
CHECK_ID = "check_answer_cells"


def _locked(grade_id):
    return {"nbgrader": {"grade": False, "grade_id": grade_id, "locked": True, "schema_version": 3,
                         "solution": False, "task": False}}


def expected_cells(nb, name):
    """(rules source, check cell source) the notebook ``name``.ipynb should have."""
    return (answer_cells.rules_markdown(answer_cells.notebook_imports(nb)),
            answer_cells.CHECK_CELL.format(notebook=f"{name}.ipynb"))


def update(path, write=True):
    """What of one notebook is out of date (a list), brought up to date if ``write``."""
    nb = nbformat.read(str(path), as_version=4)
    rules, check = expected_cells(nb, path.stem)
    changed = []
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nb.cells}
    if "rules" not in cells:
        raise SystemExit(f"{path}: no cell with the grade id `rules` (put one after the introduction)")
    if cells["rules"].source != rules:
        cells["rules"].source = rules
        changed.append("the rules cell")
    if nb.cells[-1].metadata.get("nbgrader", {}).get("grade_id") != CHECK_ID or nb.cells[-1].source != check:
        nb.cells = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") != CHECK_ID]
        nb.cells.append(new_code_cell(check, metadata=_locked(CHECK_ID), id=CHECK_ID))
        changed.append("the last cell")
    if changed and write:
        nbformat.write(nb, str(path))
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    args = parser.parse_args(argv)
    stale = 0
    for path in sorted(SOURCE.glob("*/*.ipynb")):
        changed = update(path, write=not args.check)
        if changed:
            stale += 1
            what = " and ".join(changed)
            print(f"{'out of date' if args.check else 'updated'}: {what} of {path.relative_to(SOURCE.parent)}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
