"""The course's prose is its own: no passage of book/ or exercises/ repeats the lecture.

Runs the shared checker, ../shared/tools/lecture_overlap.py, which lists every run of
nine or more words shared with the lecture's text and exits 1 if there is any.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT.parent / "shared" / "tools" / "lecture_overlap.py"


@pytest.mark.skipif(not CHECKER.exists(), reason=f"{CHECKER} is absent (../shared is not beside the repository)")
def test_no_passage_repeats_the_lecture():
    proc = subprocess.run([sys.executable, str(CHECKER), "book", "exercises"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"passages copied from the lecture:\n{proc.stdout}{proc.stderr}"
