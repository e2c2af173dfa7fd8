"""The library's promises about its own shape: layers without cycles, no lazy imports."""
import ast
from pathlib import Path

import adcourse

PACKAGE = Path(adcourse.__file__).parent
MODULES = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


def imports_of(path):
    """(module-level adcourse imports, adcourse imports inside functions) of one module."""
    top, inner = set(), set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or "").startswith("adcourse")):
            module = (node.module or "").removeprefix("adcourse").lstrip(".")
            names = [module] if module else [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.removeprefix("adcourse").lstrip(".") for a in node.names if a.name.startswith("adcourse")]
            names = [n or "__init__" for n in names]
        for name in names:
            (top if node in tree.body else inner).add(name.split(".")[0])
    return top & (set(MODULES) | {"__init__"}), inner


def test_no_module_imports_one_that_imports_it_back():
    graph = {name: imports_of(path)[0] for name, path in MODULES.items()}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, seen + (n,))) for n in graph.get(start, ()))

    cycles = [name for name in graph if reaches(name, name)]
    assert not cycles, f"import cycles through {cycles}"


def test_core_is_a_leaf_and_no_module_imports_adcourse_lazily():
    assert imports_of(MODULES["core"])[0] == set()
    lazy = {name: imports_of(path)[1] for name, path in MODULES.items() if imports_of(path)[1]}
    assert not lazy, f"imports of adcourse inside functions: {lazy}"
    assert all("__init__" not in imports_of(path)[0] for path in MODULES.values())


def test_the_package_docstring_names_every_module():
    assert all(f"{name}.py" in adcourse.__doc__ for name in MODULES)
