"""Sphinx extension: link every page of one language's site to its twin in the other.

The course is built as one Sphinx project per language, ``book/<lang>/`` into
``<html>/<lang>/``, with the same file names on both sides. So the twin of page
``X`` is ``../<other>/X.html`` seen from the site root, and the switch can be a
plain link written into the HTML at build time: it works without JavaScript and
the link checker can follow it.

Configuration (``_config.yml``, ``sphinx: config:``):

``bilingual_languages``
    language code -> the name of that language in itself, e.g.
    ``{en: English, ru: Русский}``. The current site is Sphinx's ``language``.

A page whose twin source file is missing raises a warning (so ``-W`` fails the build).
"""
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _others(app):
    languages = app.config.bilingual_languages
    here = app.config.language
    if here not in languages:
        raise ValueError(
            f"bilingual: language {here!r} is not in bilingual_languages {sorted(languages)}; "
            "add it there or set `language` to one of them"
        )
    return [code for code in languages if code != here]


def _check_twins(app, env):
    """Warn about pages that have no twin source in the other language's folder."""
    src = Path(app.srcdir)
    for code in _others(app):
        twin_dir = src.parent / code
        for docname in sorted(env.found_docs):
            if not any(twin_dir.glob(f"{docname}.*")):
                logger.warning(
                    "page %r has no twin in %s: write %s/%s.md (same sections, same code cells)",
                    docname, code, twin_dir.relative_to(src.parent.parent), docname,
                    location=docname, type="bilingual", subtype="missing-twin",
                )
    return []


def _add_switch(app, pagename, templatename, context, doctree):
    """Put the twin pages' URLs, relative to this page, into the template context
    (book/_templates/lang-switch.html renders them)."""
    if app.builder.format != "html":
        return
    names = app.config.bilingual_languages
    # From this page up to the folder that holds every language's site.
    up = "../" * (pagename.count("/") + 1)
    target = app.builder.get_target_uri(pagename)
    context["bilingual_twins"] = [
        {"code": code, "name": names[code], "url": f"{up}{code}/{target}"}
        for code in _others(app)
    ]


def _register_russian_citations():
    """An author-year citation style whose joints are Russian: «Баур и Штрассен», «и др.».

    Registered under the name ``author_year_ru`` (book/ru/_config.yml selects it); the
    names themselves stay as the bibliography spells them.
    """
    from dataclasses import dataclass, field

    from pybtex.richtext import Tag, Text
    from sphinxcontrib.bibtex.plugin import register_plugin
    from sphinxcontrib.bibtex.style.referencing import PersonStyle
    from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

    def russian_persons():
        return PersonStyle(sep2=" и ", last_sep=" и ", other=Text(" ", Tag("em", "и др.")))

    @dataclass
    class RussianAuthorYearReferenceStyle(AuthorYearReferenceStyle):
        person: PersonStyle = field(default_factory=russian_persons)

    register_plugin("sphinxcontrib.bibtex.style.referencing", "author_year_ru",
                    RussianAuthorYearReferenceStyle)


def setup(app):
    _register_russian_citations()
    app.add_config_value("bilingual_languages", {"en": "English", "ru": "Русский"}, "html")
    app.connect("env-updated", _check_twins)
    app.connect("html-page-context", _add_switch)
    app.add_css_file("bilingual.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
