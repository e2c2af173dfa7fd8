"""The rules for the answer cells of the graded notebooks, and the check that applies them.

Before running a submission, the autograder reads every cell the student wrote and does not
run a cell that could reach grading: the hidden checks and the grader's objects in the kernel,
files, processes, the network. Everything else is ordinary Python and runs. This module is that
check, and students can run it themselves before they submit, with the same messages:

    check_answer_cells("a1_finite_differences.ipynb")      # the last cell of every notebook
    python -m adcourse.answer_cells a1_finite_differences.ipynb

One list drives all of it: ``IMPORTS`` (what may be imported) and ``RULES`` (what is refused,
in English and Russian), from which ``rules_markdown`` writes each notebook's rules cell. A
notebook allows more imports through its metadata, ``{"adcourse": {"imports": {...}}}``.
"""
import ast
import datetime
import importlib
import inspect
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field

# -- what may be imported ----------------------------------------------------------------
# Module -> the members answer cells may use: None for all (but the DENIED_MEMBERS below),
# or a prefix that every allowed member starts with.
IMPORTS = {
    "numpy": None,
    "numpy.testing": "assert_",
    "math": None,
    "cmath": None,
    "random": None,
    "itertools": None,
    "functools": None,
    "operator": None,
    "collections": None,
    "dataclasses": None,
    "typing": None,
    "numbers": None,
    "fractions": None,
    "decimal": None,
    "statistics": None,
    "heapq": None,
    "bisect": None,
    "copy": None,
    "enum": None,
    "abc": None,
    "time": None,
    "warnings": ("warn", "catch_warnings", "simplefilter", "filterwarnings", "resetwarnings"),
    "__future__": None,
    "matplotlib.pyplot": None,
}

# Members of allowed modules that are refused wherever they are reached, by why.
DENIED_MEMBERS = {
    "files": {"load", "loads", "loadtxt", "genfromtxt", "fromfile", "fromregex", "save", "savez",
              "savez_compressed", "savetxt", "memmap", "open_memmap", "DataSource", "tofile",
              "dump", "savefig", "imread", "imsave", "style", "rc_file", "rc_context",
              "switch_backend", "info"},
    "internals": {"lib", "ctypeslib", "ctypes", "f2py", "distutils", "get_type_hints",
                  "ForwardRef", "evaluate_forward_ref", "attrgetter", "methodcaller"},
}

# -- what is refused on any object ---------------------------------------------------------
DENIED_ATTRIBUTES = {
    "files": {"tofile", "dump", "savefig", "ctypes", "open", "system", "popen"},
    "internals": {"gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame",
                  "tb_next", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "co_code",
                  "co_consts", "co_names", "mro", "exec", "eval", "compile",
                  "__globals__", "__code__", "__closure__", "__builtins__", "__subclasses__",
                  "__bases__", "__base__", "__mro__", "__getattribute__", "__getattr__", "__self__",
                  "__wrapped__", "__traceback__", "__import__", "__loader__", "__spec__", "__path__",
                  "__file__", "__cached__", "__reduce__", "__reduce_ex__", "__defaults__",
                  "__kwdefaults__", "__objclass__", "__setattr__", "__delattr__"},
    "ipython": {"run_cell", "run_line_magic", "run_cell_magic", "user_ns", "user_global_ns",
                "shell", "kernel", "showtraceback", "events", "input_transformers_post",
                "input_transformers_cleanup", "ast_transformers"},
}
DENIED_NAMES = {
    "code": {"eval", "exec", "compile", "__import__"},
    "files": {"open"},
    "namespace": {"globals", "locals", "breakpoint", "help"},
}
# Python's own machinery in the namespace: refused in any form (a cell that rebinds
# `__builtins__` could change how the grader's test cells import their checks).
BUILTIN_NAMES = {"__builtins__", "__builtin__", "__import__", "__loader__", "__spec__"}
# IPython's own objects in the notebook's namespace (the history holds the grader's cells);
# refused when read, unless the cell binds the name itself (`for _i in ...`).
IPYTHON_NAMES = {"get_ipython", "In", "Out", "exit", "quit", "_ih", "_oh", "_dh", "_i", "_ii",
                 "_iii", "__", "___"}
_HISTORY_NAME = re.compile(r"^_i?\d+$")
NAME_FUNCTIONS = ("getattr", "setattr", "delattr")  # allowed with the name written out
MAGICS = {"matplotlib": ("inline",), "time": None, "timeit": None}  # None: any code, checked
_TIMEIT_OPTION = re.compile(r"^\s*(?:-[nrp]\s*\d+\s+|-[tcqo]\s+)*")
_FORMAT_ESCAPE = re.compile(r"\{[^{}]*__[^{}]*\}")  # "{0.__globals__}"

# -- the rules as students read them --------------------------------------------------------
RULES = [
    ("files",
     "No files, processes or network: no `open`, no file functions of numpy (`np.load`, `np.save`, "
     "`np.loadtxt`, `arr.tofile`, …) or matplotlib (`savefig`, `imread`, `plt.style`), no shell "
     "commands (`!…`).",
     "Никаких файлов, процессов и сети: ни `open`, ни файловых функций numpy (`np.load`, `np.save`, "
     "`np.loadtxt`, `arr.tofile`, …) и matplotlib (`savefig`, `imread`, `plt.style`), ни команд "
     "оболочки (`!…`)."),
    ("code",
     "No text run as code: no `eval`, `exec`, `compile` or `__import__`; `getattr`, `setattr` and "
     "`delattr` only with the attribute's name written out (`getattr(node, \"grad\")`); `.format` "
     "only on a string written out (or an f-string).",
     "Никакого текста, выполняемого как код: ни `eval`, `exec`, `compile` и `__import__`; `getattr`, "
     "`setattr` и `delattr` — только с явно записанным именем атрибута (`getattr(node, \"grad\")`); "
     "`.format` — только у явно записанной строки (или f-строка)."),
    ("namespace",
     "Leave the grader's objects alone: no `globals()`, `locals()`, `vars()` without an argument, "
     "`help` or `breakpoint`; no IPython objects (`get_ipython`, `In`, `Out`, `_i`, `exit`, …) unless "
     "your cell assigns the name itself; no frames or code of functions (`.f_back`, `.gi_frame`, "
     "`__traceback__`, `__globals__`, `__code__`, `__closure__`, …), no `__builtins__`, and no "
     "private attribute reached through another object (`x.y._z`; `self._z` is fine).",
     "Не трогайте объекты проверки: ни `globals()`, `locals()`, `vars()` без аргумента, `help` и "
     "`breakpoint`; ни объектов IPython (`get_ipython`, `In`, `Out`, `_i`, `exit`, …), если только "
     "ваша ячейка сама не присваивает это имя; ни кадров и кода функций (`.f_back`, `.gi_frame`, "
     "`__traceback__`, `__globals__`, `__code__`, `__closure__`, …), ни `__builtins__`, ни приватных "
     "атрибутов, полученных через другой объект (`x.y._z`; `self._z` можно)."),
    ("modules",
     "Modules are shared with the grader, so leave them as they are: no `np.allclose = …`, no "
     "`del np.x`; use a module through its name (`np.sin(x)`, or `xp = np` and then `xp.sin(x)`), "
     "not as an argument or an item of a list.",
     "Модули общие с проверкой, поэтому не меняйте их: никаких `np.allclose = …` и `del np.x`; "
     "обращайтесь к модулю по имени (`np.sin(x)` или `xp = np`, а затем `xp.sin(x)`), а не "
     "передавайте его аргументом или элементом списка."),
    ("magics",
     "Of IPython's magic commands only `%matplotlib inline`, `%time` and `%timeit` (the code they "
     "run follows the same rules).",
     "Из магических команд IPython — только `%matplotlib inline`, `%time` и `%timeit` (код, который "
     "они выполняют, подчиняется тем же правилам)."),
]


def _code_list(names, last):
    names = [f"`{name}`" for name in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {last} " + names[-1]


def _describe_imports(imports, lang):
    """The allowed imports as a sentence, in English or Russian."""
    listed = [m for m, members in IMPORTS.items() if members is None and m != "__future__"]
    extra = [f"`{module}`" + (f" ({'only' if lang == 'en' else 'только'} {_code_list(members, 'and' if lang == 'en' else 'и')})"
                               if members else "")
             for module, members in imports.items() if module not in IMPORTS]
    if lang == "en":
        text = (f"Import only these modules: {_code_list(listed, 'and')}; from `numpy.testing` its "
                f"`assert_…` functions, from `warnings` {_code_list(IMPORTS['warnings'], 'and')}, and "
                "`from __future__ import annotations`.")
        if extra:
            text += " In this assignment also " + ", ".join(extra[:-1]) + (" and " if len(extra) > 1 else "") + extra[-1] + "."
    else:
        text = (f"Импортируйте только эти модули: {_code_list(listed, 'и')}; из `numpy.testing` — его "
                f"функции `assert_…`, из `warnings` — {_code_list(IMPORTS['warnings'], 'и')}, а также "
                "`from __future__ import annotations`.")
        if extra:
            text += " В этом задании также " + ", ".join(extra[:-1]) + (" и " if len(extra) > 1 else "") + extra[-1] + "."
    return text


GRADING = (
    "**How this notebook is graded.** Each task has an answer cell (write your code where it says "
    "`YOUR CODE HERE`) and a test cell after it. The test cell's visible tests let you check your "
    "answer before you submit; when grading, the same cell also runs hidden tests on other, random "
    "inputs. Written answers (marked *written answer*) are graded by hand; write them in English or "
    "in Russian. Run the whole notebook from the top (*Restart & Run All*) before submitting.",
    "**Как оценивается этот ноутбук.** В каждой задаче есть ячейка для ответа (код пишется там, где "
    "стоит `YOUR CODE HERE`) и ячейка с тестами после неё. Открытые тесты позволяют проверить ответ до "
    "сдачи; при проверке та же ячейка запускает ещё и скрытые тесты на других, случайных входах. "
    "Письменные ответы (помечены *письменный ответ*) проверяются вручную; пишите по-русски или "
    "по-английски. Перед сдачей перезапустите ноутбук и выполните его целиком (*Restart & Run All*).")
RULES_INTRO = (
    "**Rules for answer cells.** The autograder reads every cell you wrote before running anything. "
    "It refuses only what could reach grading (the hidden tests, the grader's objects, files, "
    "processes, the network); a refused cell is not run, the tasks that need it score 0, and the "
    "feedback names the rule and the line. Everything else is allowed.",
    "**Правила для ячеек с ответами.** Автопроверка читает каждую вашу ячейку до запуска. Она "
    "отклоняет только то, что может повлиять на проверку (скрытые тесты, объекты проверки, файлы, "
    "процессы, сеть); отклонённая ячейка не запускается, задачи, которым она нужна, получают 0, а в "
    "отзыве названы правило и строка. Всё остальное разрешено.")
RULES_AFTER = (
    ("Where a task asks you to write a method, write it: a library's version of it (JAX, autograd, "
     "`adcourse`'s own transforms and numerical methods) scores 0, however it is reached.",
     "Если задача просит написать метод, напишите его сами: его готовая версия из библиотеки (JAX, "
     "autograd, собственные преобразования и численные методы `adcourse`) получает 0, каким бы путём "
     "до неё ни добраться."),
    ("Do not edit or delete the locked cells: the autograder puts the original back and says so in "
     "the feedback.",
     "Не редактируйте и не удаляйте защищённые ячейки: автопроверка вернёт оригинал и сообщит об этом "
     "в отзыве."),
    ("**Before you submit**, save the notebook and run its last cell: it applies these rules "
     "exactly as the autograder does and prints what the autograder would refuse.",
     "**Перед сдачей** сохраните ноутбук и выполните его последнюю ячейку: она применяет эти правила "
     "так же, как автопроверка, и печатает то, что автопроверка отклонила бы."),
)


def _fill(text, width, **indents):
    """textwrap.fill that never breaks a `code span` across lines."""
    glue = "\x00"
    kept = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", glue), text)
    return textwrap.fill(kept, width, break_on_hyphens=False, **indents).replace(glue, " ")


def rules_markdown(extra_imports=None, width=100):
    """The rules cell of a notebook that allows ``extra_imports`` besides ``IMPORTS``."""
    imports = allowed_imports(extra_imports)
    parts = []
    for lang, index in (("en", 0), ("ru", 1)):
        bullets = [_describe_imports(imports, lang)] + [rule[1 + index] for rule in RULES] + \
                  [pair[index] for pair in RULES_AFTER]
        parts.append(_fill(GRADING[index], width))
        parts.append(_fill(RULES_INTRO[index], width) + "\n" + "\n".join(
            _fill(bullet, width, initial_indent="- ", subsequent_indent="  ") for bullet in bullets))
    return "\n\n".join(parts)


CHECK_CELL = (
    "# Before you submit: save the notebook, then run this cell. It reads your answer cells with the\n"
    "# autograder's own rules and prints what the autograder would refuse.\n"
    "# Перед сдачей: сохраните ноутбук и выполните эту ячейку. Она читает ваши ячейки с ответами по\n"
    "# правилам автопроверки и печатает то, что автопроверка отклонила бы.\n"
    "from adcourse.answer_cells import check_answer_cells\n"
    "check_answer_cells(\"{notebook}\")")


def allowed_imports(extra_imports=None):
    """IMPORTS with a notebook's extras ({module: None or a list of members})."""
    imports = dict(IMPORTS)
    for module, members in (extra_imports or {}).items():
        imports[module] = None if members is None else tuple(members)
    return imports


def notebook_imports(nb):
    """The extra imports a notebook (a dict, as read from JSON) declares in its metadata."""
    return nb.get("metadata", {}).get("adcourse", {}).get("imports", {})


# -- refusals ------------------------------------------------------------------------------
_MESSAGES = {  # what a line does: "line 3 <English>" / "в строке 3 <Russian>"
    "import": ("imports `{name}`, which is not on the list of modules answer cells may import",
               "импорт `{name}`, а этого модуля нет в списке разрешённых для ячеек с ответами"),
    "reach": ("reaches the module `{name}`, which is not on the list of modules answer cells may import",
              "обращение к модулю `{name}`, а его нет в списке разрешённых для ячеек с ответами"),
    "member": ("uses `{name}`, which is not among the parts of `{module}` answer cells may use",
               "обращение к `{name}`, а это не входит в разрешённую часть модуля `{module}`"),
    "files": ("uses `{name}`, which reads or writes files or starts processes",
              "обращение к `{name}`, а это чтение или запись файлов либо запуск процессов"),
    "internals": ("uses `{name}`, which reaches the insides of functions, frames or modules (the "
                  "grader's too)",
                  "обращение к `{name}`, а это доступ к внутреннему устройству функций, кадров или "
                  "модулей, в том числе функций проверки"),
    "ipython": ("uses `{name}`, which belongs to IPython itself and holds the grader's cells",
                "обращение к `{name}`, а это объект самого `IPython`, в нём хранятся ячейки проверки"),
    "code": ("uses `{name}`, which runs text as code",
             "обращение к `{name}`, а это выполнение текста как кода"),
    "namespace": ("uses `{name}`, which reaches the notebook's namespace with the grader's objects in it",
                  "обращение к `{name}`, а это доступ ко всему пространству имён ноутбука вместе с "
                  "объектами проверки"),
    "private": ("uses `.{name}`, a private attribute of an object reached through another attribute "
                "or a call",
                "обращение к `.{name}`, приватному атрибуту объекта, полученного через другой атрибут "
                "или вызов"),
    "dynamic": ("calls `{name}` with an attribute name computed at run time; write the name out",
                "вызов `{name}` с именем атрибута, которое вычисляется при выполнении; запишите имя явно"),
    "format": ("calls `.format` on a string that is not written out; use an f-string",
               "вызов `.format` у строки, которая не записана явно; используйте f-строку"),
    "format_escape": ("has a format string that reaches a dunder attribute",
                      "строка формата, которая обращается к «дандер»-атрибуту"),
    "changes": ("changes `{name}`, which belongs to a module the grader uses too",
                "изменение `{name}`, а это часть модуля, которым пользуется и проверка"),
    "passes": ("passes the module `{name}` around; call its functions (`{name}.f(…)`) or alias it "
               "(`xp = {name}`)",
               "модуль `{name}` передаётся как значение; вызывайте его функции (`{name}.f(…)`) или "
               "дайте ему другое имя (`xp = {name}`)"),
    "relative": ("uses a relative import", "относительный импорт"),
    "magic": ("uses the magic command `%{name}`; answer cells may use only `%matplotlib inline`, "
              "`%time` and `%timeit`",
              "магическая команда `%{name}`, а в ячейках с ответами можно только `%matplotlib inline`, "
              "`%time` и `%timeit`"),
    "shell": ("runs a shell command (`!…`)", "команда оболочки (`!…`)"),
}


@dataclass
class Violation:
    """One thing a cell may not do, at a line of the cell, said in English and in Russian."""

    line: int
    kind: str
    fields: dict = field(default_factory=dict)

    @property
    def en(self):
        return f"line {self.line} " + _MESSAGES[self.kind][0].format(**self.fields)

    @property
    def ru(self):
        return f"в строке {self.line} " + _MESSAGES[self.kind][1].format(**self.fields)

    def __str__(self):
        return self.en


def refusal(where, violations):
    """(English, Russian) sentences that say a cell was not run and why; ``where`` is a grade id
    or a cell number."""
    name_en = f"cell `{where}`" if isinstance(where, str) else f"cell {where}"
    name_ru = f"ячейку `{where}`" if isinstance(where, str) else f"ячейку {where}"
    shown = violations[:5]
    return (f"The autograder did not run {name_en}: {'; '.join(v.en for v in shown)}.",
            f"Автопроверка не запускала {name_ru}: {'; '.join(v.ru for v in shown)}.")


# -- reading a cell ------------------------------------------------------------------------
_transformer = None


def _python(source):
    """The cell as the kernel runs it: IPython's syntax (magics, `!`) translated as IPython does."""
    global _transformer
    if _transformer is None:
        from IPython.core.inputtransformer2 import TransformerManager
        _transformer = TransformerManager()
    return _transformer.transform_cell(source)


def _parse(source):
    try:
        return ast.parse(_python(source))
    except SyntaxError:
        return None  # it cannot run, so it cannot do harm; the kernel reports the error


def _denied_member(name):
    for kind, names in DENIED_MEMBERS.items():
        if name in names:
            return kind
    return None


def _denied_attribute(name):
    for kind, names in DENIED_ATTRIBUTES.items():
        if name in names:
            return kind
    if name.startswith("print_"):  # canvas.print_png(path) writes a file
        return "files"
    return None


def _magic(call):
    """(kind, name, code) for IPython's translation of a magic or a shell escape, else None."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Call) and isinstance(call.func.value.func, ast.Name)
            and call.func.value.func.id == "get_ipython"):
        return None
    how = call.func.attr
    args = [a.value if isinstance(a, ast.Constant) else None for a in call.args]
    if how in ("system", "getoutput"):
        return "shell", None, None
    if how == "run_line_magic" and len(args) == 2:
        return "line", args[0], args[1]
    if how == "run_cell_magic" and len(args) == 3:
        return "cell", args[0], args[2]
    return None


class _Checker(ast.NodeVisitor):
    """Walks one cell; ``bound`` maps the names imported anywhere in the notebook (and aliases
    of modules) to the dotted paths they stand for."""

    def __init__(self, imports, bound, assigned):
        self.imports = imports
        self.bound = bound
        self.assigned = assigned          # names the cell binds itself
        self.aliases = set()              # of them, those given to a module (`xp = np`)
        self.violations = []
        self.parents = {}
        self.class_depth = 0

    def deny(self, node, kind, **fields):
        self.violations.append(Violation(getattr(node, "lineno", 0), kind, fields))

    def visit(self, node):
        for child in ast.iter_child_nodes(node):
            self.parents[child] = node
        return super().visit(node)

    # -- modules -------------------------------------------------------------------------
    def module_rule(self, module):
        """The allowed members of a module (None: all; a tuple or a prefix), or False."""
        if module in self.imports:
            return self.imports[module]
        parts = module.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            parent = ".".join(parts[:cut])
            if parent in self.imports:
                if self.imports[parent] is not None:
                    return False
                if any(p.startswith("_") or _denied_member(p) for p in parts[cut:]):
                    return False
                return None
        return False

    @staticmethod
    def member_allowed(rule, name):
        if rule is None:
            return True
        if isinstance(rule, str):
            return name.startswith(rule)
        return name in rule

    def leads_to_allowed(self, module):
        """An unlisted package whose listed submodule is reached through it (matplotlib.pyplot)."""
        return any(allowed.startswith(module + ".") for allowed in self.imports)

    def load(self, dotted):
        """The object a dotted path names, or None. Only modules the rules allow are imported
        (here, in the grader's process): a module a student names is judged by its name and
        never imported, so its import-time code cannot run as the instructor."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if self.module_rule(module) is False and not self.leads_to_allowed(module):
                continue
            try:
                obj = importlib.import_module(module)
            except Exception:  # noqa: BLE001 - a broken import fails at run time, harmlessly
                continue
            for part in parts[cut:]:
                obj = getattr(obj, part, None)
            return obj
        return None

    def path_problem(self, node, path):
        """Deny ``path`` (a dotted name reached from an import) if it leads somewhere refused."""
        parts = path.split(".")
        module = parts[0]
        if self.module_rule(module) is False and not self.leads_to_allowed(module):
            self.deny(node, "reach", name=module)  # by its name: it is never imported here
            return True
        obj = self.load(module)
        if not inspect.ismodule(obj):
            return False
        for index, part in enumerate(parts[1:], start=1):
            rule = self.module_rule(module)
            if rule is False and not (self.leads_to_allowed(module) and f"{module}.{part}" in self.imports):
                self.deny(node, "reach", name=module)
                return True
            if part.startswith("_") and part not in ("__name__", "__doc__", "__version__"):
                self.deny(node, "internals", name=".".join(parts[:index + 1]))
                return True
            kind = _denied_member(part)
            if kind:
                self.deny(node, kind, name=".".join(parts[:index + 1]))
                return True
            child = getattr(obj, part, None)
            if rule not in (None, False) and not inspect.ismodule(child) and \
                    not self.member_allowed(rule, part):
                self.deny(node, "member", name=".".join(parts[:index + 1]), module=module)
                return True
            if not inspect.ismodule(child):
                return False  # a function, class or value: its attributes are checked by name
            obj, module = child, child.__name__
        if self.module_rule(obj.__name__) is False and not self.leads_to_allowed(obj.__name__):
            self.deny(node, "reach", name=obj.__name__)
            return True
        return False

    def path_of(self, name):
        """The dotted path an imported name (or a module alias) stands for; None for a variable
        of the cell's own, even if another cell imported the same name."""
        if name not in self.bound or (name in self.assigned and name not in self.aliases):
            return None
        return self.bound[name]

    # -- imports -------------------------------------------------------------------------
    def visit_Import(self, node):
        for alias in node.names:
            name = alias.name
            if self.module_rule(name) is False and not (self.leads_to_allowed(name) and not alias.asname):
                self.deny(node, "import", name=name)
                continue
            if alias.asname:
                self.bound[alias.asname] = name
            else:
                self.bound[name.split(".")[0]] = name.split(".")[0]

    def visit_ImportFrom(self, node):
        module = node.module or ""
        if node.level:
            self.deny(node, "relative")
            return
        rule = self.module_rule(module)
        for alias in node.names:
            name = alias.name
            full = f"{module}.{name}"
            if self.module_rule(full) is not False and inspect.ismodule(self.load(full)):
                self.bound[alias.asname or name] = full  # from matplotlib import pyplot
                continue
            if rule is False:
                self.deny(node, "import", name=module)
                return
            if name == "*":
                for public in self.star_names(module, rule):
                    self.bound[public] = f"{module}.{public}"
                continue
            if self.path_problem(node, full):
                continue
            if not self.member_allowed(rule, name):
                self.deny(node, "member", name=full, module=module)
                continue
            self.bound[alias.asname or name] = full

    def star_names(self, module, rule):
        obj = self.load(module)
        names = getattr(obj, "__all__", None) or [n for n in dir(obj) if not n.startswith("_")]
        return [n for n in names if self.member_allowed(rule, n)]

    # -- names ---------------------------------------------------------------------------
    def visit_Name(self, node):
        name = node.id
        kind = next((kind for kind, names in DENIED_NAMES.items() if name in names), None)
        if name in BUILTIN_NAMES:
            self.deny(node, "namespace", name=name)
        elif kind and name not in self.assigned:
            self.deny(node, kind, name=name)
        elif (name in IPYTHON_NAMES or _HISTORY_NAME.match(name)) and name not in self.assigned:
            self.deny(node, "ipython", name=name)
        elif name in NAME_FUNCTIONS + ("vars",) and name not in self.assigned and not (
                isinstance(self.parents.get(node), ast.Call) and self.parents[node].func is node):
            self.deny(node, "dynamic" if name != "vars" else "namespace", name=name)  # `f = getattr`
        elif isinstance(node.ctx, ast.Load) and self.path_of(name):
            path = self.path_of(name)
            if not self.path_problem(node, path) and not self.used_through(node) \
                    and inspect.ismodule(self.load(path)):
                self.deny(node, "passes", name=name)
        self.generic_visit(node)

    def used_through(self, node):
        """The node is used for an attribute, called, or given a name (`xp = np`)."""
        parent = self.parents.get(node)
        return (isinstance(parent, ast.Attribute) and parent.value is node) or \
            (isinstance(parent, ast.Call) and parent.func is node) or self.is_alias(parent)

    @staticmethod
    def is_alias(node):
        """`xp = np`: a plain name given to a module (bound like an import)."""
        return isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)

    def visit_Assign(self, node):
        if self.is_alias(node) and isinstance(node.value, (ast.Name, ast.Attribute)):
            path = _dotted(node.value)
            root = path.split(".")[0] if path else None
            if root and self.path_of(root):
                full = self.path_of(root) + path[len(root):]
                if inspect.ismodule(self.load(full)):
                    self.bound[node.targets[0].id] = full
                    self.aliases.add(node.targets[0].id)
        self.generic_visit(node)

    # -- attributes ----------------------------------------------------------------------
    def visit_Attribute(self, node):
        attr = node.attr
        root = node.value
        while isinstance(root, ast.Attribute):
            root = root.value
        chain = _dotted(node)
        path = self.path_of(root.id) if isinstance(root, ast.Name) and chain else None
        kind = _denied_attribute(attr)
        if path:
            path += chain[len(root.id):]
            if self.path_problem(node, path):
                pass
            elif isinstance(node.ctx, (ast.Store, ast.Del)):
                self.deny(node, "changes", name=chain)
            elif kind:
                self.deny(node, kind, name=f".{attr}")
            elif not self.used_through(node) and inspect.ismodule(self.load(path)):
                self.deny(node, "passes", name=chain)
        elif kind:
            self.deny(node, kind, name=f".{attr}")
        elif attr == "__class__" and isinstance(node.ctx, ast.Store):
            self.deny(node, "internals", name=".__class__")
        elif attr.startswith("_") and not attr.endswith("__") and not isinstance(node.value, ast.Name):
            self.deny(node, "private", name=attr)
        self.generic_visit(node)

    def visit_Subscript(self, node):
        root = node.value
        while isinstance(root, (ast.Attribute, ast.Subscript, ast.Call)):
            root = root.func if isinstance(root, ast.Call) else root.value
        if isinstance(node.ctx, (ast.Store, ast.Del)) and isinstance(root, ast.Name) and self.path_of(root.id) \
                and not self.path_of(root.id).startswith("matplotlib"):  # plt.rcParams[...] = ...
            self.deny(node, "changes", name=_dotted(node.value) or root.id)
        self.generic_visit(node)

    # -- calls ---------------------------------------------------------------------------
    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id in NAME_FUNCTIONS and func.id not in self.assigned:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                self.deny(node, "dynamic", name=func.id)
            else:
                kind = _denied_attribute(name.value)
                if kind or (name.value.startswith("_") and not name.value.endswith("__")):
                    self.deny(node, kind or "private", name=name.value)
            for child in node.args[:1] + node.args[2:] + node.keywords:
                self.visit(child)
            return
        if isinstance(func, ast.Name) and func.id == "vars" and not node.args and "vars" not in self.assigned:
            self.deny(node, "namespace", name="vars()")
        if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map") and not (
                isinstance(func.value, ast.Constant) and isinstance(func.value.value, str)):
            self.deny(node, "format")
        magic = _magic(node)
        if magic:
            self.visit_magic(node, *magic)
            return
        self.generic_visit(node)

    def visit_magic(self, node, how, name, code):
        if how == "shell":
            self.deny(node, "shell")
            return
        allowed = MAGICS.get(name, False)
        if allowed is False or (allowed is not None and (code or "").strip() not in allowed):
            self.deny(node, "magic", name=name)
            return
        if allowed is None and code:
            if how == "line" and name == "timeit":
                code = _TIMEIT_OPTION.sub("", code)
            inner = _check(code, self.imports, self.bound)
            offset = node.lineno - (1 if how == "line" else 0)
            self.violations += [Violation(v.line + offset, v.kind, v.fields) for v in inner]

    def visit_Constant(self, node):
        if isinstance(node.value, str) and _FORMAT_ESCAPE.search(node.value):
            self.deny(node, "format_escape")

    def visit_Global(self, node):
        for name in node.names:
            if name in BUILTIN_NAMES:
                self.deny(node, "namespace", name=name)


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


def _assigned_names(tree):
    """Names the cell binds itself: assignment targets, loop variables, parameters, defs."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def import_bindings(source, extra_imports=None):
    """{local name: dotted path} for the imports and module aliases of one cell."""
    tree = _parse(source)
    if tree is None:
        return {}
    checker = _Checker(allowed_imports(extra_imports), {}, _assigned_names(tree))
    checker.visit(tree)
    return checker.bound


def _check(source, imports, bound):
    tree = _parse(source)
    if tree is None:
        return []
    checker = _Checker(imports, dict(bound), _assigned_names(tree))
    checker.visit(tree)
    unique = {}
    for violation in checker.violations:  # one report a line: an outer chain repeats an inner one
        unique.setdefault(violation.line, violation)
    return [unique[line] for line in sorted(unique)]


def check_cell(source, extra_imports=None, bound=None):
    """The violations in one code cell (an empty list when the cell may run). ``bound``: the
    names the notebook's other cells import, {name: dotted path}."""
    return _check(source, allowed_imports(extra_imports), bound or {})


def _is_locked(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked")) and not meta.get("solution")


def _source(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def check_notebook(nb):
    """[(where, violations)] for the student's code cells of a notebook (a dict read from JSON):
    every code cell except the locked ones, which the autograder restores from its own copy.
    ``where`` is the cell's grade id, or its number from 1."""
    extra = notebook_imports(nb)
    bound = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            bound.update(import_bindings(_source(cell), extra))
    found = []
    for number, cell in enumerate(nb["cells"], start=1):
        if cell["cell_type"] != "code" or _is_locked(cell) or not _source(cell).strip():
            continue
        violations = check_cell(_source(cell), extra, bound)
        if violations:
            found.append((cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or number, violations))
    return found


def _find(notebook):
    """The notebook's path: as given, or the one Jupyter says this kernel runs."""
    session = os.environ.get("JPY_SESSION_NAME", "")
    for candidate in (notebook, session):
        if candidate and candidate.endswith(".ipynb") and os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def check_answer_cells(notebook):
    """Print what the autograder would refuse in the saved ``notebook`` (and return it)."""
    if os.environ.get("ADGRADER_DIR"):
        print("The autograder checked the answer cells itself before running them; what it refused, "
              "if anything, is at the top of the feedback.\n"
              "Автопроверка сама проверила ячейки с ответами до запуска; то, что она отклонила, если "
              "такое было, указано в начале отзыва.")
        return []
    path = _find(notebook)
    if path is None:
        print(f"Could not find {notebook} in {os.getcwd()}: pass the notebook's file name, "
              f"check_answer_cells(\"name.ipynb\").\n"
              f"Файл {notebook} не найден в {os.getcwd()}: укажите имя файла ноутбука, "
              f"check_answer_cells(\"имя.ipynb\").")
        return None
    with open(path, encoding="utf-8") as handle:
        found = check_notebook(json.load(handle))
    saved = datetime.datetime.fromtimestamp(os.path.getmtime(path)).strftime("%H:%M:%S")
    if not found:
        print(f"The autograder will run every answer cell of {os.path.basename(path)} (as saved at {saved}).\n"
              f"Автопроверка запустит все ячейки с ответами ноутбука {os.path.basename(path)} (сохранён в {saved}).")
    for where, violations in found:
        en, ru = refusal(where, violations)
        print(f"{en}\n{ru}\n")
    return found


def main(argv=None):
    """python -m adcourse.answer_cells NOTEBOOK...: exit status 1 if any cell would be refused."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print(__doc__.split("\n\n")[1])
        return 2
    refused = False
    for path in paths:
        refused |= bool(check_answer_cells(path))
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
