"""The website builds with warnings as errors, in both languages, and every page works offline.

Reads the HTML that the real build writes (see book_site.py): the landing page and
both sites exist, no page loads anything from another host, and every internal
link and anchor resolves.
"""
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from book_site import LANGUAGES, ROOT, assignment_ids, built_site, lecture_chapters, require_site, toc_pages

# Attributes through which a browser fetches something when it shows the page.
LOADING = {
    "script": ("src",), "img": ("src", "srcset"), "iframe": ("src",), "source": ("src", "srcset"),
    "video": ("src", "poster"), "audio": ("src",), "embed": ("src",), "object": ("data",),
    "link": ("href",), "input": ("src",),
}


class Page(HTMLParser):
    """The ids of an HTML file and the URLs it refers to, as (tag, attribute, url)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.ids, self.refs, self.lang, self.anchors = set(), [], None, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.anchors.append(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for attr in LOADING.get(tag, ()) + (("href",) if tag == "a" else ()):
            value = attrs.get(attr)
            if not value:
                continue
            urls = [part.strip().split(" ")[0] for part in value.split(",")] if attr == "srcset" else [value]
            self.refs.extend((tag, attr, url) for url in urls if url)


@pytest.fixture(scope="module")
def site():
    return require_site()


def site_pages(folder):
    """The HTML pages under `folder`; Sphinx's _static/ etc. hold theme templates, not pages."""
    return sorted(p for p in folder.rglob("*.html")
                  if not any(part.startswith("_") for part in p.relative_to(folder).parts))


@pytest.fixture(scope="module")
def pages(site):
    return {path: Page(path.read_text(encoding="utf-8")) for path in site_pages(site)}


def is_remote(url):
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme in ("http", "https")


def test_build_passes_with_warnings_as_errors(site):
    build = built_site()
    assert "build succeeded" in build.full_log, build.log[-3000:]
    assert "FAILED" not in build.output, build.output


def test_landing_page_links_both_languages(site, pages):
    landing = pages[site / "index.html"]
    targets = {url for tag, _, url in landing.refs if tag == "a"}
    assert {f"{lang}/index.html" for lang in LANGUAGES} <= targets


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_toc_page_is_built_in_its_language(site, pages, lang):
    expected = toc_pages(lang)
    assert expected, f"the {lang} toc lists no page"
    for page in expected:
        path = site / lang / f"{page}.html"
        assert path.exists(), f"{lang}: {page} is in the toc but {path} was not built"
        assert pages[path].lang == lang, f"{path}: <html lang={pages[path].lang!r}>, expected {lang!r}"


def test_no_page_loads_anything_from_another_host(pages):
    offenders = [
        f"{path}: <{tag} {attr}={url}>"
        for path, page in pages.items()
        for tag, attr, url in page.refs
        if tag != "a" and is_remote(url)
    ]
    assert not offenders, "pages load remote resources:\n" + "\n".join(offenders)


def test_no_style_sheet_loads_anything_from_another_host(site):
    offenders = []
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        for marker in ("url(http", "url('http", 'url("http', "url(//", "@import \"http", "@import 'http"):
            if marker in text:
                offenders.append(f"{css.relative_to(site)}: {marker}")
    assert not offenders, "style sheets load remote resources:\n" + "\n".join(offenders)


def test_every_internal_link_and_anchor_resolves(site, pages):
    broken = []
    for path, page in pages.items():
        for tag, attr, url in page.refs:
            parts = urlsplit(url)
            if is_remote(url) or parts.scheme in ("mailto", "data", "javascript", "blob"):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site)}: <{tag} {attr}={url}>"
            if site not in target.parents:
                broken.append(f"{where} leaves the site")
            elif not target.exists():
                broken.append(f"{where} -> missing {target}")
            elif parts.fragment and target.suffix == ".html":
                if target not in pages:
                    broken.append(f"{where} -> {target.name} is not a page of the site")
                elif unquote(parts.fragment) not in pages[target].ids:
                    broken.append(f"{where} -> no anchor #{parts.fragment} in {target.name}")
    assert not broken, f"{len(broken)} broken internal link(s):\n" + "\n".join(broken[:50])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_links_to_its_twin(site, pages, lang):
    other = next(code for code in LANGUAGES if code != lang)
    missing = []
    for path in site_pages(site / lang):
        relative = path.relative_to(site / lang)
        switches = [url for tag, attr, url in pages[path].refs
                    if tag == "a" and (path.parent / url).resolve() == (site / other / relative).resolve()]
        if not switches:
            missing.append(str(relative))
    assert not missing, f"{lang} pages without a link to the {other} twin: {missing}"


# --- Downloads: chapters as executed notebooks, assignments as student versions -------------

def downloads(path, page, kind):
    """The files a page offers: kind "notebook" (the header's download menu) or "assignment"."""
    if kind == "notebook":
        hrefs = [a["href"] for a in page.anchors if "btn-download-notebook-button" in a.get("class", "")]
    else:
        hrefs = [a["href"] for a in page.anchors if "download" in a and a.get("href", "").endswith(".ipynb")]
    return [(path.parent / unquote(urlsplit(href).path)).resolve() for href in hrefs]


def test_the_site_holds_nothing_stray(site):
    """The two sites, the landing page and its icon: no myst-nb scratch folder, no error reports."""
    assert sorted(p.name for p in site.iterdir()) == ["en", "favicon.svg", "index.html", "ru"]
    stray = [p for name in ("jupyter_execute", "reports", ".jupyter_cache") for p in site.rglob(name)]
    assert not stray, stray


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_chapter_is_offered_as_its_executed_notebook(site, pages, lang):
    import nbformat

    for chapter in lecture_chapters(lang):
        path = site / lang / f"{chapter}.html"
        offered = downloads(path, pages[path], "notebook")
        assert len(offered) == 1, f"{lang}/{chapter}: download menu offers {offered}, expected one .ipynb"
        notebook_path = offered[0]
        assert notebook_path == site / lang / "_sources" / f"{chapter}.ipynb", notebook_path
        notebook = nbformat.read(notebook_path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert code and any(c.outputs for c in code), f"{lang}/{chapter}: a notebook without outputs"
        assert notebook.metadata.kernelspec.name == "python3"
        # In the page's language: its first heading is the page's title.
        heading = next(line for c in notebook.cells if c.cell_type == "markdown"
                       for line in c.source.splitlines() if line.startswith("# "))
        title = read_title(path)
        assert heading[2:].strip() in title, f"{lang}/{chapter}: notebook starts {heading!r}, page {title!r}"


def read_title(path):
    text = path.read_text(encoding="utf-8")
    return text[text.index("<title>") + 7:text.index("</title>")]


def test_the_languages_offer_their_own_notebooks(site):
    for chapter in lecture_chapters("en"):
        en, ru = (site / lang / "_sources" / f"{chapter}.ipynb" for lang in LANGUAGES)
        assert en.read_bytes() != ru.read_bytes(), f"{chapter}: the two languages' notebooks are one file"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_students_page_offers_every_assignment(site, pages, lang):
    path = site / lang / "students.html"
    offered = {p.name: p for p in downloads(path, pages[path], "assignment")}
    expected = assignment_ids()
    assert sorted(offered) == [f"{name}.ipynb" for name in expected]
    for name in expected:
        anchor = f"assignment-{name}".lower().replace("_", "-")  # Sphinx's ids use hyphens
        assert anchor in pages[path].ids, f"{lang}: no section #{anchor} for {name}"
        assert offered[f"{name}.ipynb"].is_file()


def student_versions(site, pages):
    """Every assignment download of both sites: {file name: [paths]}."""
    found = {}
    for path, page in pages.items():
        for target in downloads(path, page, "assignment"):
            found.setdefault(target.name, []).append(target)
    return found


def hidden_or_solution_lines(source_nb):
    """Lines of the source notebook that only its solutions and hidden tests have."""
    import sys

    sys.path.insert(0, str(ROOT / "exercises" / "autograder"))
    from adgrader.nbgrader_plugins import without_hidden_tests

    secret, public = set(), set()
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        lines = cell.source.splitlines()
        if meta.get("solution"):
            inside = False
            for line in lines:
                if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                    inside = "BEGIN" in line
                elif inside or cell.cell_type == "markdown":
                    secret.add(line.strip())
                else:
                    public.add(line.strip())
        else:
            visible = without_hidden_tests(cell.source).splitlines()
            public.update(line.strip() for line in visible)
            secret.update(line.strip() for line in set(lines) - set(visible))
    return {line for line in secret - public if len(line) >= 12}


def test_student_versions_hold_no_solution_and_no_hidden_test(site, pages):
    import nbformat

    versions = student_versions(site, pages)
    assert sorted(versions) == [f"{name}.ipynb" for name in assignment_ids()]
    for name, paths in versions.items():
        stem = name.removesuffix(".ipynb")
        source = nbformat.read(ROOT / "exercises" / "source" / stem / name, as_version=4)
        secret = hidden_or_solution_lines(source)
        assert secret, f"{stem}: found no solution or hidden-test line to look for"
        for path in set(paths):
            notebook = nbformat.read(path, as_version=4)
            nbformat.validate(notebook)
            text = "\n".join(cell.source for cell in notebook.cells)
            for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                           "adgrader", "hidden."):
                assert marker not in text, f"{path}: {marker!r}"
            leaked = sorted(secret & {line.strip() for line in text.splitlines()})
            assert not leaked, f"{path}: lines of solutions or hidden tests: {leaked[:5]}"
            assert "raise NotImplementedError()" in text
            assert not any(cell.get("outputs") for cell in notebook.cells)
