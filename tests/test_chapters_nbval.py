"""nbval runs every chapter of both languages as a notebook, outside the book build.

The chapters are MyST Markdown notebooks; jupytext turns each into an .ipynb without outputs,
and `pytest --nbval-lax --current-env` executes it in a fresh kernel: every cell must run, and
the chapters' own assertions (against JAX and the theory) must hold.
"""
import subprocess
import sys

import jupytext
import pytest

from book_site import LANGUAGES, ROOT, toc_pages


def chapter_notebooks(lang):
    """The pages of a language's toc that are notebooks (they carry a kernelspec)."""
    paths = [ROOT / "book" / lang / f"{page}.md" for page in toc_pages(lang)]
    return [p for p in paths if "kernelspec" in jupytext.read(p).metadata]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_chapter_runs_under_nbval(lang, tmp_path):
    notebooks = chapter_notebooks(lang)
    assert notebooks, f"no chapter notebook in the {lang} table of contents"
    for path in notebooks:
        notebook = jupytext.read(path)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        jupytext.write(notebook, tmp_path / f"{path.stem}.ipynb", fmt="ipynb")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--current-env", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]  # 5 would mean nothing ran
    assert " passed" in proc.stdout and " failed" not in proc.stdout
