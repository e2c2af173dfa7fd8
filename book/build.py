#!/usr/bin/env python3
"""Build the course website: the English and the Russian site into one folder.

    python book/build.py [--lang en ru] [--build-dir _build] [--all] [--jobs 2] [--verbose]

Each language is its own Jupyter Book project with the same file names:

    book/en/  + _config.yml                        + _toc.yml          -> _build/html/en/
    book/ru/  + _config.yml merged with book/ru/_config.yml + book/ru/_toc.yml -> _build/html/ru/

and `_build/html/index.html` is a landing page that links to both. Every build
runs with warnings as errors (`jupyter-book build -W -n --keep-going`), executes
the notebooks through the execution cache (`_build/.jupyter_cache/<lang>`, so a
rebuild only runs what changed) and fails on a cell that raises.

Before Sphinx runs, the student versions of the assignments are made with
`nbgrader generate_assignment` (book/_ext/assignments.py), for the pages to link to.

Each language is built in a child process (`--worker LANG`) that calls
`jupyter_book.sphinx.build_sphinx`, the function behind `jupyter-book build`,
so that the output goes straight to `<build-dir>/html/<lang>/` (the command line
tool always writes to `<path>/_build/html`). The two children run side by side
when `--jobs` allows.

The build speaks briefly: one line per step, one line per executed chapter (k of n,
seconds in each language), then where the site is and how to open it. Sphinx's own
output goes to `<build-dir>/logs/build.log` (printed as well with `--verbose`); when
the build fails, the errors (with the failing chapter's traceback) and the log's
path are printed. The children report through a pipe (book/_ext/execution.py).

MathJax comes from the npm package pinned in package-lock.json, installed by `npm ci`
(`make book` and `make test` run it once, through node_modules/.installed).
"""
import argparse
import collections
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
LANGUAGES = ("en", "ru")
MATHJAX = ROOT / "node_modules" / "mathjax" / "es5" / "tex-chtml.js"
EXERCISES = ROOT / "exercises"
sys.path.insert(0, str(BOOK / "_ext"))
from assignments import make_student_versions  # noqa: E402  book/_ext/assignments.py


def log(message):
    print(f"[book] {message}", flush=True)


def deep_merge(base, override):
    """`override` merged into a copy of `base`: dictionaries key by key, the rest replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def toc_path(lang):
    return ROOT / "_toc.yml" if lang == "en" else BOOK / lang / "_toc.yml"


def language_config(lang, cache_dir):
    """The Jupyter Book configuration of one language, as a dictionary."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    override = BOOK / lang / "_config.yml"
    if override.exists():
        config = deep_merge(config, yaml.safe_load(override.read_text(encoding="utf-8")) or {})
    # The merged file is written under the build folder, so the paths that Jupyter Book
    # reads relative to the config file's folder are made absolute here.
    sphinx = config.setdefault("sphinx", {})
    sphinx["local_extensions"] = {
        name: str((ROOT / path).resolve()) for name, path in (sphinx.get("local_extensions") or {}).items()
    }
    execute = config.setdefault("execute", {})
    base = Path(cache_dir) if cache_dir else ROOT / execute.get("cache", "_build/.jupyter_cache")
    # One cache per language: the two builds may run at once, and a jupyter-cache
    # database is not meant for two writers.
    execute["cache"] = str((base / lang).resolve())
    configured = config["sphinx"]["config"].get("language")
    if configured != lang:
        raise SystemExit(f"book/{lang}: the merged config says language {configured!r}; "
                         f"set `language: {lang}` in book/{lang}/_config.yml")
    return config


def require_mathjax():
    """MathJax is served with the site, from node_modules/ (`make book` runs `npm ci` for it)."""
    if not MATHJAX.exists():
        raise SystemExit(f"{MATHJAX.relative_to(ROOT)} is missing: run `make book`, or `npm ci` in the "
                         "repository root (Debian: apt-get install npm), then build again")


def worker(lang, build_dir, fresh, cache_dir, progress_fd):
    """Build one language in this process; return the Sphinx status code."""
    # Stopped (by the parent, or kill): exit through Python, so that atexit cleans up.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    from jupyter_book.sphinx import build_sphinx
    from sphinx.util.console import nocolor
    from sphinx_external_toc.parsing import parse_toc_yaml

    if os.environ.get("NO_COLOR"):
        nocolor()

    src = BOOK / lang
    if (src / "_static").exists():
        raise SystemExit(f"{src / '_static'} exists: Jupyter Book would add every script of every "
                         "static folder (MathJax's included) to every page; use book/_assets")
    toc = toc_path(lang)
    parse_toc_yaml(toc)  # a malformed toc fails here, with its own message
    config_file = build_dir / "config" / f"{lang}.yml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        "# Generated by book/build.py from _config.yml (and book/LANG/_config.yml); do not edit.\n"
        + yaml.safe_dump(language_config(lang, cache_dir), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    result = build_sphinx(
        src,
        build_dir / "html" / lang,
        doctreedir=build_dir / ".doctrees" / lang,
        noconfig=True,
        path_config=str(config_file),
        confoverrides={
            "external_toc_path": str(toc),
            "nitpicky": True,  # -n
            "latex_individualpages": False,
            "assignments_student_dir": str(student_dir(build_dir)),
            "execution_progress_fd": progress_fd,
        },
        builder="html",
        warningiserror=True,  # -W
        keep_going=True,  # --keep-going
        freshenv=fresh,  # --all
    )
    if isinstance(result, BaseException):
        print(f"build failed: {result!r}", file=sys.stderr)
        return 1
    return int(result or 0)


def student_dir(build_dir):
    """Where the student versions of the assignments are (see book/_ext/assignments.py)."""
    return build_dir / "assignments" / "student"


def landing_page(build_dir):
    """Write <build>/html/index.html: the course's title in each language and a link to each site."""
    site = build_dir / "html"
    links = []
    for lang in LANGUAGES:
        config = language_config(lang, None)
        name = config["sphinx"]["config"]["bilingual_languages"][lang]
        links.append(
            f'    <a class="site" href="{lang}/index.html" hreflang="{lang}" lang="{lang}">\n'
            f'      <span class="title">{html.escape(config["title"])}</span>\n'
            f'      <span class="lang">{html.escape(name)}</span>\n'
            f"    </a>"
        )
    shutil.copyfile(BOOK / "_assets" / "favicon.svg", site / "favicon.svg")
    (site / "index.html").write_text(
        LANDING.replace("{links}", "\n".join(links)), encoding="utf-8"
    )


LANDING = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Automatic differentiation · Автоматическое дифференцирование</title>
  <link rel="icon" href="favicon.svg" type="image/svg+xml">
  <style>
    body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
           font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
           background: #f5f7fa; color: #1d2733; }
    main { max-width: 46rem; padding: 2rem; text-align: center; }
    h1 { font-size: 1.6rem; font-weight: 600; margin-bottom: 0.5rem; }
    p { color: #4a5665; margin-top: 0; }
    nav { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 1.25rem;
          margin-top: 2rem; }
    .site { display: flex; flex-direction: column; justify-content: center; gap: 0.4rem; padding: 1.5rem 1.75rem;
            border-radius: 0.75rem; background: #fff; border: 1px solid #d5dde6; text-decoration: none;
            color: #1f4e79; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.06); }
    .site:hover, .site:focus { border-color: #1f4e79; box-shadow: 0 2px 8px rgba(31, 78, 121, 0.2); }
    .title { font-size: 1.2rem; font-weight: 600; }
    .lang { color: #4a5665; }
  </style>
</head>
<body>
  <main>
    <h1>Automatic differentiation · <span lang="ru">Автоматическое дифференцирование</span></h1>
    <p>Forward and reverse mode, with executable chapters and the <code>adcourse</code> library.<br>
       <span lang="ru">Прямой и обратный режимы: исполняемые главы и библиотека <code>adcourse</code>.</span></p>
    <nav>
{links}
    </nav>
  </main>
</body>
</html>
"""


ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in a kernel's traceback


class Report:
    """What the parent prints while the children build: steps, chapters, problems."""

    def __init__(self, langs):
        self.langs = langs
        self.plans = {}                                  # lang -> notebooks it will execute
        self.finished = collections.defaultdict(dict)    # doc -> {lang: seconds}
        self.running = {}                                # lang -> (doc, start time)
        self.problems = collections.defaultdict(list)    # lang -> [message]
        self.ended = set()                               # languages whose build is over
        self.printed = 0
        self.lock = threading.Lock()
        self.live = sys.stdout.isatty()

    def total(self):
        return len({doc for plan in self.plans.values() for doc in plan})

    def event(self, lang, message):
        kind = message.get("event")
        with self.lock:
            if kind == "plan":
                self.plans[lang] = list(message["execute"])
                n = len(message["execute"])
                self.say(f"{lang}: {message['read']} pages to read, "
                         f"{n if n else 'no'} notebook{'s' if n != 1 else ''} to execute"
                         + ("" if n else " (all from the execution cache)"))
            elif kind == "start":
                self.running[lang] = (message["doc"], time.perf_counter())
            elif kind == "done":
                self.running.pop(lang, None)
                doc = message["doc"]
                self.finished[doc][lang] = (message["seconds"], message["ok"])
                self.plans.setdefault(lang, [])
                if doc not in self.plans[lang]:
                    self.plans[lang].append(doc)  # not foreseen: count it anyway
                self.flush_chapters()
            elif kind == "problem" and message not in self.problems[lang]:
                self.problems[lang].append(message)

    def flush_chapters(self):
        """Print each chapter once every language that executes it is done with it."""
        for doc in list(self.finished):
            times = self.finished[doc]
            langs = [lang for lang in self.langs if doc in self.plans.get(lang, [])
                     and (lang in times or lang not in self.ended)]
            if all(lang in times for lang in langs):
                self.printed += 1
                parts = ", ".join(f"{lang} {times[lang][0]:.1f} s" + ("" if times[lang][1] else " FAILED")
                                  for lang in langs)
                self.say(f"executed {self.printed:>2}/{self.total()} {doc:<20} {parts}")
                del self.finished[doc]

    def end(self, lang):
        """A language's build is over: stop waiting for its chapters."""
        with self.lock:
            self.ended.add(lang)
            self.running.pop(lang, None)
            self.flush_chapters()

    def say(self, text):
        if self.live:
            print("\r\033[K", end="")
        log(text)

    def tick(self):
        """On a terminal: the chapters executing now, with their running time, on one line."""
        with self.lock:
            if not (self.live and self.running):
                return
            now = time.perf_counter()
            parts = ", ".join(f"{doc} ({lang}) {now - t0:.0f} s" for lang, (doc, t0) in self.running.items())
            print(f"\r\033[K[book] executing {self.printed + 1}/{self.total()}: {parts}", end="", flush=True)

    def failure(self, lang):
        """The errors of a failed language: location and message, tracebacks cut to their end."""
        lines = []
        for problem in self.problems[lang][:5]:
            text = ANSI.sub("", problem["message"]).rstrip().splitlines()
            if len(text) > 30:  # a traceback: where it failed, and how
                text = text[:1] + ["    ..."] + text[-25:]
            lines += [f"  {line}" for line in text]
        if len(self.problems[lang]) > 5:
            lines.append(f"  ... and {len(self.problems[lang]) - 5} more")
        return lines


def run_workers(langs, build_dir, fresh, jobs, cache_dir, logfile, verbose):
    """Build the languages in child processes, at most `jobs` at a time; report as they go."""
    env = dict(os.environ)
    # The notebooks' kernel (kernelspec python3) starts `python`: make it this environment's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_COLOR"] = "1"  # the log is a file
    # matplotlib's font list of our own: a list in the user's cache that some other program
    # wrote without matplotlib's fonts (it happened) would print a findfont warning in every
    # chapter, and draw the figures in the wrong font.
    fonts = Path(build_dir) / ".matplotlib"
    fonts.mkdir(parents=True, exist_ok=True)
    env["MPLCONFIGDIR"] = str(fonts)
    report = Report(langs)
    pending, running, failed, times = list(langs), {}, [], {}

    def pump_output(lang, stream):
        for line in stream:
            with report.lock:
                logfile.write(f"[{lang}] {line}")
                logfile.flush()
            if verbose:
                print(f"[{lang}] {line}", end="", flush=True)

    def pump_events(lang, stream):
        for line in stream:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            report.event(lang, message)

    def start(lang):
        read_end, write_end = os.pipe()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", lang,
               "--build-dir", str(build_dir), "--progress-fd", str(write_end)]
        if fresh:
            cmd.append("--all")
        if cache_dir:
            cmd += ["--cache", str(cache_dir)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1, pass_fds=(write_end,))
        os.close(write_end)
        threads = [threading.Thread(target=pump_output, args=(lang, proc.stdout), daemon=True),
                   threading.Thread(target=pump_events, args=(lang, os.fdopen(read_end, encoding="utf-8")),
                                    daemon=True)]
        for thread in threads:
            thread.start()
        running[lang] = (proc, threads, time.perf_counter())

    last_tick = 0.0
    while pending or running:
        while pending and len(running) < jobs:
            start(pending.pop(0))
        for lang, (proc, threads, t0) in list(running.items()):
            if proc.poll() is not None:
                for thread in threads:
                    thread.join()
                times[lang] = time.perf_counter() - t0
                del running[lang]
                report.end(lang)
                if proc.returncode == 0:
                    report.say(f"{lang}: done in {times[lang]:.1f} s -> {build_dir / 'html' / lang}")
                else:
                    failed.append(lang)
                    report.say(f"{lang}: FAILED (exit {proc.returncode}) in {times[lang]:.1f} s")
                    for line in report.failure(lang):
                        print(line, flush=True)
        if time.perf_counter() - last_tick >= 1:
            report.tick()
            last_tick = time.perf_counter()
        time.sleep(0.1)
    return failed, times


def display_path(path, base):
    """`path` relative to `base` (where the build was started) when below it: shorter to type."""
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return str(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lang", nargs="+", choices=LANGUAGES, default=list(LANGUAGES),
                    help="languages to build (default: all)")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "_build",
                    help="output root: the site goes to BUILD_DIR/html (default: _build)")
    ap.add_argument("--all", action="store_true",
                    help="re-read every page (a fresh Sphinx environment); executed "
                         "notebooks still come from the execution cache")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="languages built at once (default: 2 where there are 2 cores)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="execution cache folder (default: execute.cache in _config.yml)")
    ap.add_argument("--verbose", action="store_true",
                    help="print Sphinx's whole output too (it always goes to BUILD_DIR/logs/build.log)")
    ap.add_argument("--worker", choices=LANGUAGES, help=argparse.SUPPRESS)
    ap.add_argument("--progress-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    build_dir = args.build_dir.resolve()
    shown_from = Path.cwd().resolve()
    os.chdir(ROOT)

    if args.worker:
        return worker(args.worker, build_dir, args.all, args.cache, args.progress_fd)

    t0 = time.perf_counter()
    (build_dir / "html").mkdir(parents=True, exist_ok=True)
    log_path = build_dir / "logs" / "build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    shown_log = display_path(log_path, shown_from)
    shown_site = display_path(build_dir / "html", shown_from)
    with open(log_path, "w", encoding="utf-8") as logfile:
        require_mathjax()
        t1 = time.perf_counter()
        try:
            ids = make_student_versions(EXERCISES, student_dir(build_dir).parent)
        except RuntimeError as error:
            logfile.write(f"{error}\n")
            log(f"FAILED: student versions of the assignments: {error}")
            return 1
        log(f"student versions of {len(ids)} assignments (nbgrader generate_assignment): "
            f"{time.perf_counter() - t1:.1f} s")
        log(f"building {' and '.join(args.lang)} ({max(1, args.jobs)} at a time); "
            f"Sphinx's output: {shown_log}")
        failed, _ = run_workers(args.lang, build_dir, args.all, max(1, args.jobs), args.cache,
                                logfile, args.verbose)
    if failed:
        log(f"FAILED: {', '.join(failed)} (warnings are errors). The whole output: {shown_log}")
        return 1
    landing_page(build_dir)
    log(f"site ready in {time.perf_counter() - t0:.0f} s: {shown_site}/index.html")
    log(f"open it: xdg-open {shown_site}/index.html, or serve it with "
        f"`python3 -m http.server -d {shown_site} 8000` and open http://localhost:8000/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
