"""Every version of the locked cells ever released, so that tampering is told apart from an
older release: after a test is fixed mid-term (``generate_assignment --force``), the students
who worked on the earlier release hold the earlier test, and that is not tampering.

``released_cells.json``, beside the gradebook: {assignment: {notebook: {grade id: [sha256 of
each released source]}}}. Written after ``nbgrader generate_assignment``, read by
``ReportTampering``.
"""

import hashlib
import json
import os

import nbformat

FILE = "released_cells.json"


def fingerprint(source):
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _load(root):
    try:
        with open(os.path.join(root, FILE), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def record(root, assignment, released_notebook):
    """Add the locked cells of one released notebook to the record."""
    history = _load(root)
    nb = nbformat.read(released_notebook, as_version=4)
    name = os.path.splitext(os.path.basename(released_notebook))[0]
    cells = history.setdefault(assignment, {}).setdefault(name, {})
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and not meta.get("solution") and meta.get("grade_id"):
            versions = cells.setdefault(meta["grade_id"], [])
            if fingerprint(cell.source) not in versions:
                versions.append(fingerprint(cell.source))
    path = os.path.join(root, FILE)
    with open(path + ".new", "w", encoding="utf-8") as handle:
        json.dump(history, handle, indent=1, sort_keys=True)
    os.replace(path + ".new", path)


def released(root, assignment, notebook):
    """{grade id: set of fingerprints} of every released version of the notebook's locked cells."""
    cells = _load(root).get(assignment, {}).get(notebook, {})
    return {grade_id: set(versions) for grade_id, versions in cells.items()}
