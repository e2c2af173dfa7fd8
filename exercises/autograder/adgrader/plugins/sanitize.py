"""Autograde, sanitizing stage: nbgrader's process, before any student code runs.

``ReportTampering``    before nbgrader's repairs: notes locked cells a student changed,
                       deleted or retyped, and grade ids used twice (nbgrader repairs all of
                       these; this says so to the instructor and in the feedback); a cell as
                       an earlier release had it is not a change (``releases.py``);
``ForgetDuplicateIds`` after ``DeduplicateIds``: works around an nbgrader crash;
``StudentCodePolicy``  last: cells that break the rules for answer cells
                       (``adcourse.answer_cells``) are replaced by a ``raise`` (the original kept
                       as comments), and the report goes on top of the notebook.
"""

import json
import os

from adcourse import answer_cells
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, List, Unicode
from traitlets.config import Application

from . import _report, _where, releases

REPORT_MARK = "adgrader-report"


def without_hidden_tests(source, begin="BEGIN HIDDEN TESTS", end="END HIDDEN TESTS"):
    """The cell as released: nbgrader's ClearHiddenTests drops the marked region."""
    kept, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


class ReportTampering(NbGraderPreprocessor):
    """Compare the submission's graded and locked cells with the gradebook, before
    nbgrader's ``OverwriteCells`` silently puts them back."""

    def preprocess(self, nb, resources):
        nbg = resources["nbgrader"]
        report = _report(resources)
        seen = {}
        with Gradebook(nbg["db_url"]) as gb:
            try:
                notebook = gb.find_notebook(nbg["notebook"], nbg["assignment"])
            except MissingEntry:
                return nb, resources
            source_cells = {cell.name: cell for cell in notebook.source_cells}
            given = releases.released(_coursedir(self).root, nbg["assignment"], nbg["notebook"])
            grade_ids = {cell.name for cell in notebook.grade_cells}
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                grade_id = meta.get("grade_id")
                if not grade_id:
                    continue
                seen[grade_id] = seen.get(grade_id, 0) + 1
                if seen[grade_id] == 2:
                    report.append(f"grade id `{grade_id}` appears more than once: "
                                  "nbgrader keeps the last such cell / "
                                  f"id `{grade_id}` встречается несколько раз")
                original = source_cells.get(grade_id)
                if original is None:
                    report.append(f"a cell claims the unknown grade id `{grade_id}` / "
                                  f"ячейка с неизвестным id `{grade_id}`")
                    continue
                if original.locked and not meta.get("solution"):
                    if cell.cell_type != original.cell_type:
                        report.append(f"locked cell `{grade_id}` was changed from {original.cell_type} "
                                      f"to {cell.cell_type}: restored / тип защищённой ячейки "
                                      f"`{grade_id}` изменён: восстановлен")
                    elif cell.source not in (original.source, without_hidden_tests(original.source)) and \
                            releases.fingerprint(cell.source) not in given.get(grade_id, ()):
                        report.append(f"locked cell `{grade_id}` was edited: restored from the gradebook / "
                                      f"защищённая ячейка `{grade_id}` изменена: восстановлена")
            for grade_id in sorted(grade_ids - set(seen)):
                report.append(f"graded cell `{grade_id}` was deleted: restored / "
                              f"оцениваемая ячейка `{grade_id}` удалена: восстановлена")
        for line in report:
            self.log.warning("[%s] %s", _where(resources), line)
        return nb, resources


def _is_ours(source, original):
    """The cell is the gradebook's locked cell: the same code, or (a deleted cell that
    nbgrader put back) the same code under a comment saying so."""
    if original is None or not source.endswith(original):
        return False
    prefix = source[: len(source) - len(original)]
    return all(not line.strip() or line.lstrip().startswith("#") for line in prefix.splitlines())


def _coursedir(configurable):
    """The course directory of the nbgrader converter running a preprocessor (the parent of its
    exporter): under Formgrader, ``Application.instance()`` is the Jupyter server, which has none."""
    while configurable is not None:
        if hasattr(configurable, "coursedir"):
            return configurable.coursedir
        configurable = configurable.parent
    return Application.instance().coursedir


class ForgetDuplicateIds(NbGraderPreprocessor):
    """After ``DeduplicateIds``: drop the empty ``nbgrader`` metadata it leaves on the
    duplicates it demotes, on which nbgrader 0.9.6's ``OverwriteCells`` crashes (KeyError
    'grade_id' in ``add_missing_task_cells``) and fails the whole submission."""

    def preprocess_cell(self, cell, resources, index):
        if "nbgrader" in cell.metadata and not cell.metadata["nbgrader"].get("grade_id"):
            del cell.metadata["nbgrader"]
        return cell, resources


class StudentCodePolicy(NbGraderPreprocessor):
    """Keep code that could reach grading from running, by the rules of
    ``adcourse.answer_cells`` (the check students run in their notebook's last cell, with the
    imports the source notebook allows): each refused cell is replaced by a ``raise`` whose
    message is the refusal in both languages, the student's code kept below as comments (the
    instructor can read it when grading by hand; the student sees it in the feedback)."""

    trusted_students = List(Unicode(), help=(
        "Students whose code is run without this check (for instance after the instructor "
        "has read it): their answers are still judged by the tests.")).tag(config=True)
    enabled = Bool(True, help=(
        "Read students' code before running it. Switched off only by the tests that check "
        "what the sandbox alone stops.")).tag(config=True)

    def preprocess(self, nb, resources):
        nbg = resources["nbgrader"]
        report = _report(resources)
        if self.enabled and nbg["student"] not in self.trusted_students:
            trusted = self._trusted_sources(nbg)
            extra = self._allowed_imports(nbg)
            bound = {}
            for cell in nb.cells:
                if cell.cell_type == "code":
                    bound.update(answer_cells.import_bindings(cell.source, extra))
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                meta = cell.metadata.get("nbgrader", {})
                if not meta.get("solution") and _is_ours(cell.source, trusted.get(meta.get("grade_id"))):
                    continue  # a locked cell of ours, as nbgrader restored it
                violations = answer_cells.check_cell(cell.source, extra, bound)
                if violations:
                    english, russian = answer_cells.refusal(meta.get("grade_id") or index + 1, violations)
                    report.append(f"{english} / {russian}")
                    self.log.warning("[%s] %s", _where(resources), english)
                    cell.source = self._neutered(cell.source, english, russian)
        if report:
            nb.cells.insert(0, self._report_cell(report))
        return nb, resources

    def _allowed_imports(self, nbg):
        """The imports the instructor's source notebook allows besides the common ones (never
        the submitted copy's, which the student could edit)."""
        coursedir = _coursedir(self)
        path = os.path.join(coursedir.format_path(coursedir.source_directory, ".", nbg["assignment"]),
                            f"{nbg['notebook']}.ipynb")
        try:
            with open(path, encoding="utf-8") as handle:
                return answer_cells.notebook_imports(json.load(handle))
        except (OSError, ValueError) as error:
            self.log.warning("[%s] the source notebook %s could not be read (%s): only the common "
                             "imports are allowed", _where({"nbgrader": nbg}), path, error)
            return {}

    @staticmethod
    def _trusted_sources(nbg):
        with Gradebook(nbg["db_url"]) as gb:
            try:
                notebook = gb.find_notebook(nbg["notebook"], nbg["assignment"])
            except MissingEntry:
                return {}
            return {cell.name: cell.source for cell in notebook.source_cells if cell.locked}

    @staticmethod
    def _neutered(source, english, russian):
        message = f"{english}\n{russian}"
        kept = "\n".join("# " + line for line in source.splitlines())
        return f"raise RuntimeError({message!r})\n# --- the submitted code / присланный код ---\n{kept}\n"

    @staticmethod
    def _report_cell(report):
        lines = ["**Autograder report / Отчёт автопроверки**", ""]
        lines += [f"- {line}" for line in report]
        cell = new_markdown_cell("\n".join(lines))
        cell.metadata["tags"] = [REPORT_MARK]
        return cell
