"""The Russian and the English site are twins: only the language differs.

Both tables of contents list the same pages in the same order, and every pair of
twin pages has the same code cells (compared token by token, with strings and
comments left out, since those are translated) with the same tags (shown, hidden,
removed, not executed) and the same mystnb options (the prompts' text aside), the
same headings at the same levels, the same directives (figures, notes, dropdowns,
...), the same labels and citations, and the same exercises at the same levels.
"""
import io
import re
import tokenize

import jupytext
import pytest
from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

from book_site import ROOT, toc_pages, toc_shape

PAGES = toc_pages("en")
SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
FSTRING_START = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
FSTRING_END = getattr(tokenize, "FSTRING_END", None)


def code_tokens(source):
    """The cell's Python tokens without strings and comments; IPython magics stay as tokens."""
    tokens, depth = [], 0
    lines = io.StringIO(source + "\n").readline
    for tok in tokenize.generate_tokens(lines):
        if tok.type == FSTRING_START:
            depth += 1
        elif tok.type == FSTRING_END:
            depth -= 1
        elif depth == 0 and tok.type not in SKIPPED and tok.type != tokenize.STRING:
            tokens.append(tok.string if tok.type != tokenize.DEDENT else "<dedent>")
    return tokens


# An exercise's level, as book/CONVENTIONS.md names it in each language.
EXERCISE_LEVELS = {"warm-up": "warm-up", "разминка": "warm-up", "main idea": "main idea",
                   "основная идея": "main idea", "stretch": "stretch", "со звёздочкой": "stretch"}

MARKDOWN = MarkdownIt("commonmark").use(colon_fence_plugin).use(dollarmath_plugin)


def blocks(text):
    """Heading levels and directive names, in order, looking inside directives too."""
    found = []
    for token in MARKDOWN.parse(text):
        if token.type == "heading_open":
            found.append(("heading", token.tag))
        elif token.type in ("fence", "colon_fence") and token.info.startswith("{"):
            found.append(("directive", token.info.split("}")[0] + "}"))
            found += blocks(token.content)
    return found


def markdown_structure(text):
    """Heading levels, directive names, labels and citations of a markdown cell, in order."""
    found = blocks(text)
    # Targets `(name)=` and references {cite}`a,b`, {ref}`x`, {numref}`y`, {eq}`z`.
    found += [("label", m) for m in re.findall(r"^\((\S+)\)=\s*$", text, re.M)]
    # Exercises: their headings carry a level, the same in both languages.
    for level in re.findall(r"^#{2,4} [^(\n]*\(([^()\n]+)\)", text, re.M):
        if level.strip().lower() in EXERCISE_LEVELS:
            found.append(("exercise", EXERCISE_LEVELS[level.strip().lower()]))
    for role, body in re.findall(r"\{(cite(?::\w+)?|ref|numref|eq|doc)\}`([^`]*)`", text):
        target = body.rsplit("<", 1)[-1].rstrip(">")  # {ref}`shown text <target>`
        found += [(role, key.strip()) for key in target.split(",")]
    return found


def metadata_shape(metadata):
    """A code cell's metadata as the twins must share it: the tags (what is shown, hidden,
    skipped) and every other key, with the values of the keys that are text (the mystnb
    prompts, "Show the set-up" / «Показать подготовку») left out, since they are translated."""
    def shape(value):
        if isinstance(value, dict):
            return tuple(sorted((key, shape(item)) for key, item in value.items()))
        return "<text>" if isinstance(value, str) else repr(value)

    rest = {key: value for key, value in metadata.items() if key != "tags"}
    return tuple(sorted(metadata.get("tags", []))), shape(rest)


def page_signature(path):
    """What must match between twins: per cell, code tokens and metadata, or markdown structure."""
    notebook = read(path)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            tags, other = metadata_shape(cell.metadata)
            cells.append(("code", tuple(code_tokens(cell.source)), tags, other))
        else:
            cells.append(("markdown", tuple(markdown_structure(cell.source))))
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    return kernel, cells


def read(path):
    """A page as a notebook; .md files are read as MyST markdown whether or not they have a header."""
    return jupytext.read(path, fmt="md:myst" if path.suffix == ".md" else None)


def source(lang, page):
    matches = [p for p in (ROOT / "book" / lang).glob(f"{page}.*") if p.suffix in (".md", ".ipynb")]
    assert len(matches) == 1, f"book/{lang}/{page}: expected one .md or .ipynb, found {matches}"
    return matches[0]


def test_both_tables_of_contents_list_the_same_pages():
    assert toc_pages("en") == toc_pages("ru")
    assert toc_shape("en") == toc_shape("ru"), "the two tocs differ in more than their captions"


@pytest.mark.parametrize("page", PAGES)
def test_twin_pages_have_the_same_code_and_structure(page):
    en_kernel, en = page_signature(source("en", page))
    ru_kernel, ru = page_signature(source("ru", page))
    assert en_kernel == ru_kernel
    en_code = [c for c in en if c[0] == "code"]
    ru_code = [c for c in ru if c[0] == "code"]
    assert len(en_code) == len(ru_code), f"{page}: {len(en_code)} code cells in en, {len(ru_code)} in ru"
    for k, (a, b) in enumerate(zip(en_code, ru_code), 1):
        assert a[2] == b[2], f"{page}: code cell {k} has tags {list(a[2])} in en, {list(b[2])} in ru"
        assert a[3] == b[3], f"{page}: code cell {k} has other metadata in en ({a[3]}) than in ru ({b[3]})"
        assert a[1] == b[1], f"{page}: code cell {k} differs beyond strings and comments"
    structure_en = [item for c in en if c[0] == "markdown" for item in c[1]]
    structure_ru = [item for c in ru if c[0] == "markdown" for item in c[1]]
    assert structure_en == structure_ru, f"{page}: headings, directives, labels or citations differ"


@pytest.mark.parametrize("page", PAGES)
def test_pages_with_code_are_notebooks_that_run_in_python3(page):
    """A page with code is a notebook for the python3 kernel, so the build executes it."""
    for lang in ("en", "ru"):
        notebook = read(source(lang, page))
        if any(c.cell_type == "code" for c in notebook.cells):
            assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", f"{lang}/{page}"


def test_the_comparison_ignores_only_strings_and_comments():
    a = 'x = f(1, "one")  # comment\nprint(f"{x} items")\n'
    b = "x = f(1, 'один')\nprint(f'{x} штук')  # другой\n"
    assert code_tokens(a) == code_tokens(b)
    assert code_tokens("x = f(1)\n") != code_tokens("x = f(2)\n")
    assert code_tokens("if a:\n    b()\nc()\n") != code_tokens("if a:\n    b()\n    c()\n")
    assert markdown_structure("# A\n\n## B {cite}`k1,k2`\n") == markdown_structure("# А\n\n## Б {cite}`k1,k2`\n")
    assert markdown_structure("# A\n") != markdown_structure("## A\n")
    assert markdown_structure("### Exercise 1 (warm-up). Sums\n") == \
        markdown_structure("### Упражнение 1 (разминка). Суммы\n")
    assert markdown_structure("### Exercise 1 (warm-up). A\n") != markdown_structure("### Упражнение 1 (со звёздочкой). А\n")
    shown = {"tags": ["hide-input"], "mystnb": {"code_prompt_show": "Show the set-up"}}
    assert metadata_shape(shown) == metadata_shape(
        {"tags": ["hide-input"], "mystnb": {"code_prompt_show": "Показать подготовку"}})
    assert metadata_shape(shown) != metadata_shape({"tags": ["remove-cell"], "mystnb": shown["mystnb"]})
    assert metadata_shape(shown) != metadata_shape({"tags": ["hide-input"]})
