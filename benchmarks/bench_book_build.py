"""How long the course website takes to build: cold, and again from the execution cache.

Builds both languages (book/build.py, as `make book` does) into a temporary folder with
an empty execution cache of its own, so the figures do not depend on, or disturb, the
repository's _build/:
  1. cold build: every notebook executed, the student versions made by nbgrader
     (issue 9 target: at most 5 minutes on the 2-core machine);
  2. cached rebuild: a fresh Sphinx environment (`--all`), every page read and written
     again, notebooks taken from the execution cache (target: at most 30 s);
  3. no-change rebuild: what `make book` costs when nothing changed.
For each it prints the seconds, each language's share, and how many lines the build
printed (what a reader of `make book` sees; Sphinx's output goes to the build's log).
Run: .venv/bin/python benchmarks/bench_book_build.py [--jobs N]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"cold build": 5 * 60, "cached rebuild": 30}


def build(build_dir, cache, jobs, *extra):
    """Run the build; return (seconds, {language: seconds}, lines printed)."""
    cmd = [sys.executable, str(ROOT / "book" / "build.py"), "--build-dir", str(build_dir),
           "--cache", str(cache), "--jobs", str(jobs), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"build failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    per_language = {lang: float(s) for lang, s in re.findall(r"\[book\] (\w+): done in ([\d.]+) s", proc.stdout)}
    return seconds, per_language, len((proc.stdout + proc.stderr).splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="languages built at once (default 2)")
    args = ap.parse_args()
    tocs = {"en": ROOT / "_toc.yml", "ru": ROOT / "book" / "ru" / "_toc.yml"}
    # the root page plus one per `file:` entry
    pages = {lang: 1 + len(re.findall(r"^\s*-?\s*file:", toc.read_text(encoding="utf-8"), re.M))
             for lang, toc in tocs.items()}
    print(f"book: {pages['en']} pages in English, {pages['ru']} in Russian (as the tocs list them); "
          f"languages built {args.jobs} at a time; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (other work on the machine slows every figure below)")
    work = Path(tempfile.mkdtemp(prefix="adcourse-bench-book-"))
    try:
        runs = [
            ("cold build", ()),
            ("cached rebuild", ("--all",)),
            ("no-change rebuild", ()),
        ]
        for name, extra in runs:
            seconds, per_language, lines = build(work / "build", work / "cache", args.jobs, *extra)
            detail = ", ".join(f"{lang} {s:.1f} s" for lang, s in per_language.items())
            target = TARGETS.get(name)
            verdict = "" if target is None else f"  (target <= {target} s: {'met' if seconds <= target else 'MISSED'})"
            print(f"{name:18s} {seconds:7.1f} s   [{detail}]  {lines} lines printed{verdict}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
