"""Sphinx extension: every chapter downloadable as its executed notebook, in its own language.

myst-nb writes each notebook it executes (or takes from the execution cache), with its
outputs, to its output folder as ``<docname>.ipynb``; by default that folder is
``<outdir>/../jupyter_execute``. Here ``<outdir>`` is ``<build>/html/<lang>``, so the default
would be one folder for both languages (built side by side, each overwriting the other's
``forward-mode.ipynb``) inside the published ``html/``. So:

* at ``builder-inited`` each language gets a private output folder under its own doctree
  folder, ``<build>/.doctrees/<lang>/jupyter_execute``, outside the site;
* for every page that is a notebook, the executed notebook is published as
  ``<outdir>/_sources/<docname>.ipynb`` and the page's context gets ``ipynb_source``, which
  is what sphinx-book-theme needs to put ".ipynb" into the page's download menu (it does this
  itself only when a launch button, Binder and the like, is configured; this course has none).

When a notebook comes from the execution cache instead of being run, myst-nb 1.4 renders the
cached outputs but writes the notebook as it read it, without them. Such a notebook gets its
outputs here, from the same cache record (jupyter-cache's ``merge_match_into_notebook``).
"""
from pathlib import Path

import nbformat

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _own_output_folder(app):
    config = getattr(app.env, "mystnb_config", None)
    if config is not None:
        folder = Path(app.doctreedir) / "jupyter_execute"
        app.env.mystnb_config = config.copy(output_folder=str(folder.resolve()))


def executed_notebook(app, docname):
    """The executed notebook myst-nb wrote for `docname`, or None if the page is no notebook."""
    config = getattr(app.env, "mystnb_config", None)
    if config is None or not config.output_folder:
        return None
    path = Path(config.output_folder, *f"{docname}.ipynb".split("/"))
    return path if path.is_file() else None


def _offer_notebook(app, pagename, templatename, context, doctree):
    """Publish the page's executed notebook and put it into the download menu."""
    if app.builder.format != "html" or doctree is None:
        return
    executed = executed_notebook(app, pagename)
    if executed is None:
        return
    notebook = nbformat.read(executed, as_version=4)
    if not has_outputs(notebook):
        notebook = with_cached_outputs(app, notebook, pagename)
    text = nbformat.writes(notebook)
    target = Path(app.outdir, "_sources", *f"{pagename}.ipynb".split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and target.read_text(encoding="utf-8") == text):
        target.write_text(text, encoding="utf-8")
    context["ipynb_source"] = f"{pagename}.ipynb"


def has_outputs(notebook):
    return any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def with_cached_outputs(app, notebook, pagename):
    """`notebook` with the outputs the execution cache holds for it."""
    config = app.env.mystnb_config
    if config.execution_mode != "cache" or not any(c.cell_type == "code" for c in notebook.cells):
        return notebook
    from jupyter_cache import get_cache

    try:
        return get_cache(config.execution_cache_path).merge_match_into_notebook(notebook)[1]
    except KeyError:
        logger.warning("%s: the execution cache has no outputs for its notebook; the download "
                       "would have none", pagename, location=pagename, type="notebooks", subtype="cache")
        return notebook


def setup(app):
    app.setup_extension("myst_nb")
    app.connect("builder-inited", _own_output_folder, priority=900)  # after myst-nb's own
    # Before sphinx-book-theme builds its header buttons (priority 501).
    app.connect("html-page-context", _offer_notebook, priority=450)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
