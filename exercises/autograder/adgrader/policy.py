"""What a student's code cell may do, checked by reading its code before anything runs.

The autograder runs student code in a kernel that can see the whole course directory
(source notebooks with their solutions, the gradebook with the hidden tests) and that
could rewrite numpy, IPython or the checks themselves. No check that runs inside that
kernel can stop code that is already running there, so this one runs first, outside it,
in nbgrader's own process: a cell that does something an answer never needs is not run
at all (``adgrader.nbgrader_plugins.StudentCodePolicy`` replaces it by a ``raise``).

The rules are an allowlist where it matters (imports) and a denylist of escape hatches
elsewhere (file access, introspection of frames and modules, rewriting modules, running
strings as code, IPython's own machinery). Honest answers need none of these: the source
notebooks' solutions are checked against these same rules by the tests.
"""

import ast
import importlib
import inspect
import re
from dataclasses import dataclass, field

from IPython.core.inputtransformer2 import TransformerManager

# Modules any answer cell may import, with the attributes it may reach (None: any but the
# denied ones below).
COMMON_MODULES = {
    "numpy": None,
    "math": None,
    "cmath": None,
    "itertools": None,
    "functools": None,
    "collections": None,
    "dataclasses": None,
    "numbers": None,
    "operator": None,
    "typing": None,
    "time": None,
    "random": None,
    "warnings": None,
    "matplotlib.pyplot": None,
}

# Per assignment: extra modules (and, for adcourse, exactly which names) the answers may use.
# Everything else of adcourse and all of JAX are off limits: the tasks ask for the method itself.
ASSIGNMENT_MODULES = {
    "a1_finite_differences": {},
    "a2_forward_mode": {},
    "a3_reverse_mode": {},
    "a4_hvp_hutchinson": {
        "adcourse": {"grad", "jvp", "vjp", "value_and_grad", "numpy"},
        "adcourse.numpy": None,
    },
    "a5_checkpointing": {},
    "a6_mds_gradient": {},
    "a7_choosing_a_mode": {
        "adcourse": {"jvp", "vjp", "numpy"},
        "adcourse.numpy": None,
    },
    "a8_beyond_the_chain_rule": {},
    "a9_mock_exam": {},
}

# Attribute names that read or write files, reach frames and code objects, run strings as
# code, or drive IPython. Denied on any object.
DENIED_ATTRIBUTES = frozenset({
    # files and processes
    "load", "loads", "loadtxt", "genfromtxt", "fromfile", "tofile", "save", "savez",
    "savez_compressed", "savetxt", "memmap", "open_memmap", "fromregex", "DataSource",
    "savefig", "imread", "imsave", "dump", "dumps", "system", "popen", "getoutput",
    "style", "rc_file", "rc_context", "use", "switch_backend",
    # numpy's doors to C, to test helpers and to its internals
    "ctypes", "ctypeslib", "testing", "lib", "f2py", "distutils",
    # frames, code, modules
    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame",
    "tb_next", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "co_code",
    "co_consts", "co_names", "func_globals", "mro", "modules",
    # running strings as code, reflection
    "exec", "eval", "compile", "open", "getattr", "setattr", "delattr", "get_type_hints",
    "ForwardRef", "attrgetter", "methodcaller",
    # IPython
    "run_cell", "run_line_magic", "run_cell_magic", "user_ns", "user_global_ns", "shell",
    "kernel", "showtraceback", "events", "input_transformers_post",
    "input_transformers_cleanup", "ast_transformers",
})

# Dunder attributes that operator overloading and ordinary classes use; every other dunder
# (__globals__, __dict__, __subclasses__, __code__, __builtins__, ...) is a way out.
SAFE_DUNDERS = frozenset(
    "__init__ __class__ __name__ __qualname__ __doc__ __call__ __repr__ __str__ __format__ "
    "__len__ __getitem__ __setitem__ __iter__ __next__ __contains__ __hash__ __bool__ "
    "__float__ __int__ __index__ __complex__ __array__ __array_priority__ __array_ufunc__ "
    "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __neg__ __pos__ __abs__ "
    "__add__ __radd__ __iadd__ __sub__ __rsub__ __isub__ __mul__ __rmul__ __imul__ "
    "__truediv__ __rtruediv__ __itruediv__ __floordiv__ __rfloordiv__ __mod__ __rmod__ "
    "__pow__ __rpow__ __ipow__ __matmul__ __rmatmul__ __imatmul__ __enter__ __exit__ "
    "__slots__ __post_init__ __round__".split()
)

# Names an answer may not use: builtins that open doors, and IPython's history of inputs
# and outputs (which holds the text of the test cell that is running).
DENIED_NAMES = frozenset({
    "open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "breakpoint", "input", "help", "exit", "quit", "memoryview",
    "get_ipython", "In", "Out", "_ih", "_oh", "_dh", "_i", "_ii", "_iii", "__", "___",
})
_HISTORY_NAME = re.compile(r"^_i?\d+$")
# A format field that reaches an attribute or item with a dunder: "{0.__globals__}".
_FORMAT_ESCAPE = re.compile(r"\{[^{}]*__[^{}]*\}")
_ALLOWED_MAGIC = "get_ipython().run_line_magic('matplotlib', 'inline')"
_transformer = TransformerManager()


@dataclass
class Violation:
    """One thing a cell may not do, at a line of the cell."""

    line: int
    what: str

    def __str__(self):
        return f"line {self.line}: {self.what}"


@dataclass
class _Scope:
    modules: dict                      # module name -> allowed attributes (None: any)
    bound: dict = field(default_factory=dict)   # local name -> dotted path it was imported as


def allowed_modules(assignment_id):
    """The import allowlist for one assignment (the common one plus its own extras)."""
    modules = dict(COMMON_MODULES)
    modules.update(ASSIGNMENT_MODULES.get(assignment_id, {}))
    return modules


def _parse(source):
    """The cell as the kernel will run it: IPython syntax (magics, shell escapes) is
    translated first, exactly as IPython does, so ``!cat file`` is seen as the call it is."""
    python = _transformer.transform_cell(source)
    python = python.replace(_ALLOWED_MAGIC, "pass")
    try:
        return ast.parse(python)
    except SyntaxError:
        return None  # it cannot run, so it cannot do harm; the kernel reports the error


def import_bindings(source):
    """{local name: dotted path} for every import in a cell (allowed or not).

    The notebook's cells share one namespace: ``np`` imported in a locked set-up cell is
    the same ``np`` a student's cell uses, so every cell is checked knowing them all.
    """
    tree = _parse(source)
    bound = {}
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def check_cell(source, assignment_id, bound=None):
    """The violations in one code cell's source (an empty list when the cell may run).

    ``bound``: names the notebook's other cells imported ({name: dotted path}).
    """
    tree = _parse(source)
    if tree is None:
        return []
    checker = _Checker(_Scope(allowed_modules(assignment_id), dict(bound or {})))
    checker.visit(tree)
    unique = {}
    for violation in checker.violations:  # one report a line: an outer chain repeats an inner one
        unique.setdefault(violation.line, violation)
    return [unique[line] for line in sorted(unique)]


def _import_object(dotted):
    """The object a dotted import path names (None if it does not import)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - a broken import fails at run time, harmlessly
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part, None)
        return obj
    return None


def _is_module(dotted):
    return inspect.ismodule(_import_object(dotted))


def _dotted(node):
    """'a.b.c' for an attribute chain rooted at a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


class _Checker(ast.NodeVisitor):
    def __init__(self, scope):
        self.scope = scope
        self.violations = []
        self._parents = {}

    def deny(self, node, what):
        self.violations.append(Violation(getattr(node, "lineno", 0), what))

    def visit(self, node):
        for child in ast.iter_child_nodes(node):
            self._parents[child] = node
        return super().visit(node)

    def _path_denied(self, path):
        """Why an imported dotted path may not be used here (None if it may)."""
        parts = path.split(".")
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if _is_module(module):
                allowed, attributes = self._module_rule(module)
                if not allowed:
                    return "from a module answer cells may not use"
                rest = parts[cut:]
                if rest and attributes is not None and rest[0] not in attributes:
                    return "which this assignment asks you not to use"
                if any(part in DENIED_ATTRIBUTES or part.startswith("_") for part in rest):
                    return "which answer cells may not use"
                return None
        return None

    # -- imports -------------------------------------------------------------------------
    def _module_rule(self, module):
        """(allowed, attributes) for a dotted module path."""
        modules = self.scope.modules
        if module in modules:
            return True, modules[module]
        top = module.split(".")[0]
        parts = module.split(".")
        if top in modules and modules[top] is None and \
                not any(part.startswith("_") or part in DENIED_ATTRIBUTES for part in parts):
            return True, None
        return False, None

    def visit_Import(self, node):
        for alias in node.names:
            allowed, _ = self._module_rule(alias.name)
            if not allowed:
                self.deny(node, f"imports `{alias.name}`, which answer cells may not use")
                continue
            if alias.asname:
                self.scope.bound[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.scope.bound[top] = top

    def visit_ImportFrom(self, node):
        module = node.module or ""
        if node.level:
            self.deny(node, "uses a relative import")
            return
        allowed, attributes = self._module_rule(module)
        if not allowed:
            self.deny(node, f"imports from `{module}`, which answer cells may not use")
            return
        for alias in node.names:
            name = alias.name
            if name == "*":
                self.deny(node, f"uses `from {module} import *`; import the names you need")
                continue
            full = f"{module}.{name}"
            if name.startswith("_") or name in DENIED_ATTRIBUTES or \
                    (attributes is not None and name not in attributes):
                self.deny(node, f"imports `{full}`, which this assignment asks you not to use")
                continue
            obj = _import_object(full)
            if inspect.ismodule(obj) and not self._module_rule(obj.__name__)[0]:
                self.deny(node, f"imports the module `{obj.__name__}` through `{full}`")
                continue
            self.scope.bound[alias.asname or name] = full

    # -- names ---------------------------------------------------------------------------
    def visit_Name(self, node):
        name = node.id
        if name in DENIED_NAMES or _HISTORY_NAME.match(name):
            self.deny(node, f"uses `{name}`")
        elif name.startswith("__") and name.endswith("__") and not (
                isinstance(node.ctx, ast.Store) and name in SAFE_DUNDERS):
            self.deny(node, f"uses `{name}`")
        elif isinstance(node.ctx, ast.Load) and name in self.scope.bound:
            path = self.scope.bound[name]
            reason = self._path_denied(path)
            if reason:
                self.deny(node, f"uses `{name}` ({path}), {reason}")
            else:
                parent = self._parents.get(node)
                used_through = (isinstance(parent, ast.Attribute) and parent.value is node) or \
                    (isinstance(parent, ast.Call) and parent.func is node)
                if not used_through and _is_module(path):
                    self.deny(node, f"passes the module `{name}` around; call its functions instead")
        self.generic_visit(node)

    # -- attributes ----------------------------------------------------------------------
    def visit_Attribute(self, node):
        attr = node.attr
        if attr in DENIED_ATTRIBUTES or attr.startswith("print_"):  # canvas.print_png(path) writes a file
            self.deny(node, f"uses `.{attr}`")
        elif attr.startswith("__"):
            if attr not in SAFE_DUNDERS:
                self.deny(node, f"uses `.{attr}`")
        elif attr.startswith("_") and not isinstance(node.value, ast.Name):
            self.deny(node, f"uses the private attribute `.{attr}` of a computed object")
        root = _root(node)
        if isinstance(root, ast.Name) and root.id in self.scope.bound:
            self._check_module_attribute(node, root)
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                self.deny(node, f"changes `{_dotted(node) or root.id}`, which belongs to a module")
        self.generic_visit(node)

    def _check_module_attribute(self, node, root):
        """`np.x`, `adcourse.hvp`, `dataclasses.sys`: what an imported name leads to.

        Followed on the real objects (imported here, in nbgrader's process), so a module
        that another module merely imports (``dataclasses.sys``) is seen for what it is.
        """
        chain = _dotted(node)
        if chain is None:
            return
        parts = chain.split(".")
        if any(part.startswith("_") and part not in SAFE_DUNDERS for part in parts[1:]):
            self.deny(node, f"uses the private `{chain}`")
            return
        obj = _import_object(self.scope.bound[parts[0]])
        for part in parts[1:]:
            if not inspect.ismodule(obj):
                return  # a function, class or value: its attributes are checked by name
            allowed, attributes = self._module_rule(obj.__name__)
            if not allowed:
                self.deny(node, f"reaches the module `{obj.__name__}` through `{chain}`")
                return
            if attributes is not None and part not in attributes:
                self.deny(node, f"uses `{chain}`, which this assignment asks you not to use")
                return
            obj = getattr(obj, part, None)
        if inspect.ismodule(obj):
            if not self._module_rule(obj.__name__)[0]:
                self.deny(node, f"reaches the module `{obj.__name__}` through `{chain}`")
                return
            parent = self._parents.get(node)
            used_through = isinstance(parent, ast.Attribute) or \
                (isinstance(parent, ast.Call) and parent.func is node)
            if not used_through:
                self.deny(node, f"passes the module `{chain}` around; call its functions instead")

    def visit_Subscript(self, node):
        root = _root(node)
        if isinstance(node.ctx, (ast.Store, ast.Del)) and isinstance(root, ast.Name) \
                and root.id in self.scope.bound:
            self.deny(node, f"changes an item of `{root.id}`, which belongs to a module")
        self.generic_visit(node)

    # -- strings run as code -------------------------------------------------------------
    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map") and not (
                isinstance(func.value, ast.Constant) and isinstance(func.value.value, str)):
            self.deny(node, "calls `.format` on a string that is not written out; use an f-string")
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and _FORMAT_ESCAPE.search(node.value):
            self.deny(node, "has a format string that reaches a dunder attribute")

    def visit_Global(self, node):
        for name in node.names:
            if name.startswith("__"):
                self.deny(node, f"declares `{name}` global")
