"""Feedback: no hidden test in the page, and a page that works offline."""

import os
import re

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class HideHiddenTestLines(NbGraderPreprocessor):
    """Drop from every output the lines of the cell's hidden tests.

    ``ClearHiddenTests`` removes them from the cell's code, but a traceback printed while
    they ran quotes the lines around the failing one. Runs before ``ClearHiddenTests``,
    while the cell still holds the lines to look for.
    """

    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or self.begin not in cell.source:
            return cell, resources
        hidden, inside = [], False
        for line in cell.source.splitlines():
            if self.begin in line:
                inside = True
            if inside and line.strip():
                hidden.append(line.strip())
            if self.end in line:
                inside = False
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [self._scrub(frame, hidden) for frame in output["traceback"]]
            elif output.get("output_type") == "stream":
                output["text"] = self._scrub(output["text"], hidden)
        return cell, resources

    @staticmethod
    def _scrub(text, hidden):
        kept = []
        for line in text.split("\n"):
            plain = _ANSI.sub("", line)
            if any(h in plain for h in hidden):
                kept.append("[hidden test line]")
            else:
                kept.append(line)
        return "\n".join(kept)


class OfflineMathJax(NbGraderPreprocessor):
    """Give the feedback template a MathJax to inline (``resources['adgrader_mathjax']``).

    Feedback files travel alone (nbgrader's exchange copies only the .html), so the script
    goes inside the page. With no MathJax found the page still works and shows the TeX, and
    the log says so once a run.
    """

    mathjax_path = Unicode("", help="MathJax 3 SVG bundle (mathjax/es5/tex-svg.js); empty: look in a "
                           "node_modules folder in the course directory or above it, then in the "
                           "repository of the installed adcourse.").tag(config=True)

    def preprocess(self, nb, resources):
        path = self.mathjax_path or _find_mathjax(self.parent)
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                # A closing script tag inside the bundle would end the inline script early.
                resources["adgrader_mathjax"] = handle.read().replace("</script", "<\\/script")
        elif not _warned:
            _warned.append(path)
            self.log.warning("no local MathJax found%s: feedback shows formulas as TeX (set "
                             "OfflineMathJax.mathjax_path to mathjax/es5/tex-svg.js)",
                             f" at {path}" if path else "")
        return nb, resources


_warned = []
_BUNDLE = os.path.join("node_modules", "mathjax", "es5", "tex-svg.js")


def _find_mathjax(app):
    """node_modules/mathjax in the course directory or a folder above it, else in the
    repository that the installed adcourse comes from (an editable install)."""
    import adcourse
    root = getattr(getattr(app, "coursedir", None), "root", None) or os.getcwd()
    places = []
    here = os.path.abspath(root)
    while True:
        places.append(here)
        if os.path.dirname(here) == here:
            break
        here = os.path.dirname(here)
    places.append(os.path.dirname(os.path.dirname(os.path.abspath(adcourse.__file__))))
    for place in places:
        if os.path.exists(os.path.join(place, _BUNDLE)):
            return os.path.join(place, _BUNDLE)
    return None


class DescribeFigures(NbGraderPreprocessor):
    """Give every figure of the feedback an alternative text (nbconvert warns about each image
    without one, 24 times for a class's plots, and a screen reader has nothing to say)."""

    text = Unicode("A figure drawn by this cell / Рисунок, построенный этой ячейкой").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            for mime in ("image/png", "image/jpeg"):
                if mime in output.get("data", {}):
                    output.setdefault("metadata", {}).setdefault(mime, {}).setdefault("alt", self.text)
        return cell, resources
