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


def cleared_copies(site, lang, folder):
    """The language's downloadable notebooks, validated, copied into ``folder`` without outputs."""
    notebooks = chapter_notebooks(site, lang)
    missing = sorted(set(lecture_chapters(lang)) - {p.stem for p in notebooks})
    assert not missing, f"{lang}: no downloadable notebook for {missing}"
    folder.mkdir()
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def nbval_runs(tmp_path_factory):
    """nbval over each language's notebooks, the two languages side by side (one per core):
    {lang: (return code, stdout, stderr)}."""
    site = require_site()
    runs = {}
    for lang in LANGUAGES:
        folder = cleared_copies(site, lang, tmp_path_factory.mktemp("nbval") / lang)
        runs[lang] = subprocess.Popen(
            [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
             "-q", "--rootdir", str(folder), str(folder)],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for lang, proc in runs.items():
        out, err = proc.communicate(timeout=2400)
        results[lang] = (proc.returncode, out, err)
    return results


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_downloaded_chapter_runs_under_nbval(lang, nbval_runs):
    code, out, err = nbval_runs[lang]
    assert code == 0, out[-6000:] + err[-2000:]  # 5 would mean nothing ran
    assert " passed" in out and " failed" not in out
