"""The course website, built once per test session for the tests that read it.

`built_site()` runs the real build (book/build.py: Jupyter Book with `-W -n
--keep-going`, both languages) into a fresh temporary folder, so that no page
left over from an earlier build can hide a missing one. The execution cache is
the repository's own (_build/.jupyter_cache), so only notebooks that changed
since the last build are executed again.
"""
import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "ru")


@dataclass
class Build:
    html: Path  # the site: html/index.html, html/en/, html/ru/
    returncode: int
    log: str  # what book/build.py printed, then the end of its full log (logs/build.log)
    seconds: float
    output: str = ""  # what book/build.py printed
    full_log: str = ""  # logs/build.log: Sphinx's whole output


@functools.cache
def built_site() -> Build:
    out = Path(tempfile.mkdtemp(prefix="adcourse-site-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "book" / "build.py"), "--build-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True,
    )
    output = proc.stdout + proc.stderr
    log_file = out / "logs" / "build.log"
    full_log = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
    return Build(out / "html", proc.returncode, f"{output}\n--- end of logs/build.log ---\n{full_log[-4000:]}",
                 time.perf_counter() - t0, output, full_log)


def toc_file(lang):
    return ROOT / "_toc.yml" if lang == "en" else ROOT / "book" / lang / "_toc.yml"


def toc_pages(lang):
    """The pages a language's table of contents lists, in order (paths without suffix)."""
    toc = yaml.safe_load(toc_file(lang).read_text(encoding="utf-8"))
    pages = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(str(node["file"]).removesuffix(".md").removesuffix(".ipynb"))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    pages.append(str(toc["root"]).removesuffix(".md"))
    walk({k: v for k, v in toc.items() if k in ("parts", "chapters", "sections")})
    return pages


def toc_shape(lang):
    """The toc with file names kept and every caption/title dropped (they are translated)."""
    toc = yaml.safe_load(toc_file(lang).read_text(encoding="utf-8"))

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("caption", "title")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(toc)


def lecture_chapters(lang="en"):
    """The lecture's chapters: the pages of the toc's first part, in order."""
    toc = yaml.safe_load(toc_file(lang).read_text(encoding="utf-8"))
    return [str(ch["file"]).removesuffix(".md") for ch in toc["parts"][0]["chapters"]]


def assignment_ids():
    """The assignments: every folder of exercises/source with a notebook of its own name."""
    source = ROOT / "exercises" / "source"
    return sorted(p.name for p in source.iterdir() if (p / f"{p.name}.ipynb").is_file())


def require_site():
    """The built site's html folder; fails the calling test with the build's log if the build failed."""
    import pytest

    build = built_site()
    if build.returncode:
        pytest.fail(f"book build failed (exit {build.returncode}):\n{build.log[-6000:]}", pytrace=False)
    return build.html.resolve()
