"""The website builds with warnings as errors, in both languages, and every page works offline.

Reads the HTML that the real build writes (see book_site.py): the landing page and
both sites exist, no page loads anything from another host, every internal link and
anchor resolves, every chapter and assignment can be downloaded (and the student
versions give nothing away), every lecture chapter ends with its exercises and its
graded assignment, and the Russian pages follow Russian number typography and the
glossary's terms.
"""
import functools
import re
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
    from adgrader.plugins.sanitize import without_hidden_tests

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


# --- Russian typography on the built Russian pages (issue 10) --------------------------------
#
# The text a reader reads: the article of every Russian page, without code blocks (cell
# sources, printed outputs, inline code), navigation and section numbers, with the TeX of
# formulas kept (a 0.5 inside a formula is shown as 0.5 too).

SKIPPED_IN_PROSE = ("pre", "code", "script", "style", "nav")
# Bibliography entries keep their published form (DOIs, arXiv numbers, page ranges).
SKIPPED_CLASSES = {"highlight", "section-number", "headerlink", "cell_input", "toctree-wrapper", "citation"}


def prose(path):
    """The running text of a built page's article, as one string per block element."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article") or soup.body
    for tag in article.find_all(SKIPPED_IN_PROSE):
        tag.decompose()
    for tag in article.find_all(class_=lambda c: c and set(c.split()) & SKIPPED_CLASSES):
        tag.decompose()
    return [" ".join(block.get_text(" ").split())
            for block in article.find_all(["p", "li", "td", "th", "h1", "h2", "h3", "h4", "dt", "dd",
                                           "caption", "figcaption", "div"], recursive=True)
            if not block.find(["p", "li", "td", "div"])]


@functools.cache
def russian_pages():
    """{page: its running text} for every page of the Russian site."""
    site = require_site()
    return {page: prose(site / "ru" / f"{page}.html") for page in toc_pages("ru")}


DECIMAL_POINT = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.]*\w)")
THOUSANDS_COMMA = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3}){2,}(?![\d,])|(?<![\d,.])[1-9]\d{0,2},\d{3}(?=\s+(?:[а-яa-z]))")
E_NOTATION = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)?[eE][+-−]?\d+(?!\w)")
TIMES = re.compile(r"\bв\s+(\d[\d\u202f\u00a0 ]*(?:,\d+)?)\s+(раза|раз)\b")


def times_form(number):
    """The form of «раз» after «в N»: «раза» for 2-4 (not 12-14) and for fractions, else «раз»."""
    if "," in number:
        return "раза"
    n = int(re.sub(r"\D", "", number))
    return "раза" if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else "раз"


BANNED = {  # concept (CONVENTIONS.md's English column) -> what the Russian pages must not say
    "truncation error": r"ошибк\w*\s+отбрасывани\w*",
    "(direct) children of a node": r"\bдет(?:и|ей|ям|ьми|ях)\b|\b(?:прям|непосредственн)\w*\s+потомк\w*",
    "seed (input tangent)": r"\bзатравк\w*",
    "checkpointing": r"\bчекпоинт\w*",
}


def banned_terms():
    """The patterns, after checking that they cover every row of the glossary table in
    book/CONVENTIONS.md that has a «not this» entry."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in (ROOT / "book" / "CONVENTIONS.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("|") and line.count("|") == 4]
    with_bans = {row[0] for row in rows if row[2] and not set(row[2]) <= set("-: ") and row[2] != "not this"}
    assert with_bans == set(BANNED), f"CONVENTIONS.md bans variants for {sorted(with_bans)}; the test knows {sorted(BANNED)}"
    return {name: re.compile(pattern, re.IGNORECASE) for name, pattern in BANNED.items()}


def test_the_typography_checks_catch_what_they_should():
    assert DECIMAL_POINT.findall("шаг 0.5 и 3,14, раздел 2, версия") == ["0.5"]
    text = "шаг 0.5, см. раздел 3.2 и § 4.1"
    assert [m.group() for m in DECIMAL_POINT.finditer(text) if not_a_section_number(m)] == ["0.5"]
    assert THOUSANDS_COMMA.findall("100,663,291 байт и 3,14 и 2,718") == ["100,663,291"]
    assert E_NOTATION.findall("шаг 1e-8, ошибка 2,2e-16 и 2,2 · 10⁻¹⁶, слово e5") == ["1e-8", "2,2e-16"]
    assert [times_form(n) for n in ("2", "5", "12", "22", "111", "2,5", "1 000")] == \
        ["раза", "раз", "раз", "раза", "раз", "раза", "раз"]


def offences(pattern, check=None):
    found = {}
    for page, blocks in russian_pages().items():
        for block in blocks:
            for match in pattern.finditer(block):
                if check is None or check(match):
                    found.setdefault(page, []).append(block[max(0, match.start() - 30):match.end() + 30])
    return found


def report(found, what):
    total = sum(len(v) for v in found.values())
    return (f"{total} {what} on the Russian pages: "
            + "; ".join(f"{page}: {len(v)}" for page, v in found.items())
            + "\n" + "\n".join(f"  {page}: …{ex}…" for page, v in found.items() for ex in v[:3]))


def not_a_section_number(match):
    """«раздел 3.2», «в главе 4.1», «§ 2.3» number sections, not decimals: Russian keeps the point."""
    return not SECTION_BEFORE.search(match.string[:match.start()])


SECTION_BEFORE = re.compile(r"(?:раздел\w*|глав\w*|пункт\w*|§)\s*$", re.IGNORECASE)


def test_russian_pages_have_no_decimal_point():
    found = offences(DECIMAL_POINT, not_a_section_number)
    assert not found, report(found, "numbers with a decimal point")


def test_russian_pages_group_thousands_without_commas():
    found = offences(THOUSANDS_COMMA)
    assert not found, report(found, "numbers with commas between thousands")


def test_russian_pages_have_no_e_notation():
    found = offences(E_NOTATION)
    assert not found, report(found, "numbers in e-notation")


def test_russian_raz_agrees_with_its_number():
    found = offences(TIMES, lambda m: times_form(m.group(1)) != m.group(2))
    assert not found, report(found, "«раз» that disagree with their number")


ENGLISH_CITATION = re.compile(r"\b[A-Z][\w-]+(?: and [A-Z][\w-]+| et al\.),? \(?\d{4}")


def test_russian_citations_join_names_in_russian():
    """«Baur и Strassen, 1983», «Baydin и др., 2018»: not "and", not "et al." (author_year_ru)."""
    assert ENGLISH_CITATION.findall("[Baur and Strassen, 1983] [Baydin et al., 2018] [Baur и Strassen, 1983]") \
        == ["Baur and Strassen, 1983", "Baydin et al., 2018"]
    found = offences(ENGLISH_CITATION)
    assert not found, report(found, "citations joined in English")


def test_russian_pages_use_the_glossary_terms():
    found = {}
    for name, pattern in banned_terms().items():
        for page, examples in offences(pattern).items():
            found.setdefault(page, []).extend(f"[{name}] {ex}" for ex in examples)
    assert not found, report(found, "banned variants of glossary terms")


# --- Every lecture chapter ends with exercises and its graded assignment (issue 9) -----------

SECTION_NAMES = {"en": ("Exercises", "Graded assignment"), "ru": ("Упражнения", "Оцениваемое задание")}
LEVELS = {"en": ("warm-up", "main idea", "stretch"), "ru": ("разминка", "основная идея", "со звёздочкой")}


def chapter_assignments():
    """{chapter: assignment id} from the table in book/CONVENTIONS.md."""
    text = (ROOT / "book" / "CONVENTIONS.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| ([a-z-]+) \| (a\d+_\w+)", text, re.M))


def h2_sections(path):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    sections = []
    for section in soup.find_all("section"):
        heading = section.find(["h2"], recursive=False)
        if heading:
            for extra in heading.find_all(class_=["headerlink", "section-number"]):
                extra.decompose()
            sections.append((heading.get_text(" ", strip=True), section))
    return sections


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_chapter_ends_with_exercises_and_its_graded_assignment(site, lang):
    exercises_name, graded_name = SECTION_NAMES[lang]
    expected = chapter_assignments()
    problems = []
    for chapter in lecture_chapters(lang):
        sections = h2_sections(site / lang / f"{chapter}.html")
        names = [name for name, _ in sections]
        if names[-2:] != [exercises_name, graded_name]:
            problems.append(f"{chapter}: last sections are {names[-2:]}, expected "
                            f"[{exercises_name!r}, {graded_name!r}]")
            continue
        exercises, graded = sections[-2][1], sections[-1][1]
        headings = [" ".join(h.get_text(" ", strip=True).split()) for h in exercises.find_all("h3")]
        levels = {level for h in headings for level in LEVELS[lang] if f"({level})" in h}
        if not 4 <= len(headings) <= 8 or levels != set(LEVELS[lang]):
            problems.append(f"{chapter}: {len(headings)} exercises (4-8 wanted) at levels {sorted(levels)}")
        if not exercises.select("details.sd-dropdown"):
            problems.append(f"{chapter}: no answer in a dropdown")
        starters = [cell for cell in exercises.select("div.cell")
                    if "NotImplementedError" in cell.get_text() and "tag_skip-execution" in cell.get("class", [])]
        solutions = exercises.select("div.cell.tag_hide-input")
        if len(starters) < 2 or len(solutions) < 2:
            problems.append(f"{chapter}: {len(starters)} coding exercises with a starter, "
                            f"{len(solutions)} collapsed solutions (2 or more of each wanted)")
        links = graded.select("span.assignment-link")
        targets = [a.get("href", "") for span in links for a in span.select("a.reference.internal")
                   if "download" not in a.attrs]
        want = expected.get(chapter)
        anchor = f"students.html#assignment-{want}".replace("_", "-") if want else None
        if len(links) != 1 or not graded.select("span.assignment-link a[download]") or targets != [anchor]:
            problems.append(f"{chapter}: graded assignment links {targets}, expected [{anchor}] and a download")
    assert not problems, f"{len(problems)} problem(s) in {lang}:\n" + "\n".join(problems)
