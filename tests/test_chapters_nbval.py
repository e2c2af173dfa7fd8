"""nbval runs every chapter of both languages as the notebook a reader downloads.

The site offers each chapter as its executed notebook (the page's download menu,
`<lang>/_sources/<chapter>.ipynb`; see book/_ext/notebooks.py). Those notebooks, with
their outputs cleared, are what `pytest --nbval-lax --nbval-current-env` executes here, each
in a fresh kernel outside the book build: every cell must run top to bottom, and the
chapters' own checks (against JAX and the theory) must hold. This also tests the MyST
sources themselves, since the downloaded notebook holds every cell of its page.
"""
import subprocess
import sys

import nbformat
import pytest

from book_site import LANGUAGES, lecture_chapters, require_site, toc_pages


def chapter_notebooks(site, lang):
    """The executed notebooks the site offers for download, one per page that is a notebook."""
    found = [site / lang / "_sources" / f"{page}.ipynb" for page in toc_pages(lang)]
    return [path for path in found if path.is_file()]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_downloaded_chapter_runs_under_nbval(lang, tmp_path):
    site = require_site()
    notebooks = chapter_notebooks(site, lang)
    missing = sorted(set(lecture_chapters(lang)) - {p.stem for p in notebooks})
    assert not missing, f"{lang}: no downloadable notebook for {missing}"
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, tmp_path / path.name)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]  # 5 would mean nothing ran
    assert " passed" in proc.stdout and " failed" not in proc.stdout
