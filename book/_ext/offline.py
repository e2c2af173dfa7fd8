"""Sphinx extension: pages that load nothing from the internet.

The course must work in a classroom without a connection, so a page may link to
the web (``<a href>``) but must not *load* anything from it: no script, style
sheet, font, image or frame from another host. After a page is rendered this
extension looks through its body and its asset lists:

* resources known to be redundant here are dropped; today that is the Font
  Awesome 4 style sheet that matplotlib's JavaScript animations ask a CDN for
  (its icon names are served by the theme's own Font Awesome);
* any other one raises a warning naming the page and the URL, and ``-W`` turns
  that into a failed build.
"""
import re

from sphinx.util import logging

logger = logging.getLogger(__name__)

# A tag that makes the browser fetch its URL (links <a href> only navigate).
LOADING_TAG = re.compile(
    r"<(?P<tag>link|script|img|iframe|source|video|audio|embed|object)\b[^>]*?"
    r"\b(?:href|src|data|poster)\s*=\s*[\"'](?P<url>(?:https?:)?//[^\"']+)[\"'][^>]*>"
    r"(?:\s*</(?:script|iframe|object)>)?",
    re.IGNORECASE,
)

DROPPED = {
    "https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/font-awesome.min.css":
        "matplotlib's animation icons; the theme serves Font Awesome itself",
}


def _is_remote(url):
    return url.startswith(("http://", "https://", "//"))


def _strip_remote(app, pagename, templatename, context, doctree):
    if app.builder.format != "html":
        return
    body = context.get("body")
    if body:
        def replace(match):
            url = match.group("url")
            if url in DROPPED:
                return ""
            logger.warning(
                "%s loads %s from the internet; serve it from the site (a static file) or drop it",
                pagename, url, location=pagename, type="offline", subtype="remote",
            )
            return match.group(0)

        context["body"] = LOADING_TAG.sub(replace, body)
    for key in ("script_files", "css_files"):
        for asset in context.get(key, []):
            url = getattr(asset, "filename", asset)
            if isinstance(url, str) and _is_remote(url):
                logger.warning(
                    "%s loads %s from the internet (%s); serve it from the site instead",
                    pagename, url, key, location=pagename, type="offline", subtype="remote",
                )


def setup(app):
    # Late, so that what other extensions add to the page is seen too.
    app.connect("html-page-context", _strip_remote, priority=950)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
