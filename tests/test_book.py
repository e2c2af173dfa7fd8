"""The website builds with warnings as errors, in both languages, and every page works offline.

Reads the HTML that the real build writes (see book_site.py): the landing page and
both sites exist, no page loads anything from another host, and every internal
link and anchor resolves.
"""
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from book_site import LANGUAGES, built_site, toc_pages

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
        self.ids, self.refs, self.lang = set(), [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
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
    build = built_site()
    if build.returncode:
        pytest.fail(f"book build failed (exit {build.returncode}):\n{build.log[-6000:]}", pytrace=False)
    return build.html.resolve()


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
    log = built_site().log
    assert "build succeeded" in log and "FAILED" not in log, log[-3000:]


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
