"""The package's shape, read from its source: no import cycles, no module using another
module's ``_private`` names, and modules and functions small enough to read.

Parsed with ``ast`` (nothing is imported), so a cycle hidden in a function-level import counts
as much as one at the top of a module; imports under ``if TYPE_CHECKING:`` never run and do
not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatkit_backend"
ROOT = "chatkit_backend"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
# Underscored names that are public API of the frameworks we build on (Django documents
# ``Model._meta`` and ``Model._default_manager``); using them is not reaching into our code.
FRAMEWORK_NAMES = {"_meta", "_default_manager"}


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    is_package: bool
    imports: set[str] = field(default_factory=set)  # our modules it imports, when it runs


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_package() -> dict[str, Module]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        modules[name] = Module(name, path, tree, path.name == "__init__.py")
    for module in modules.values():
        collect_imports(module, modules)
    return modules


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: anywhere but under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in runtime_imports_of(child))
            continue
        yield from runtime_imports_of(node)


def runtime_imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from runtime_imports(node)


def absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def with_parents(name: str) -> set[str]:
    """``name`` and the packages Python initialises before it."""
    parts = name.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)}


def collect_imports(module: Module, modules: dict[str, Module]) -> None:
    """The modules ``module`` makes Python run: what it names, and their packages, except
    the packages ``module`` itself sits in (they are being initialised already)."""
    initialising = with_parents(module.name)
    for node in runtime_imports(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module.imports |= with_parents(alias.name) - initialising
            continue
        source = absolute(module, node)
        module.imports |= with_parents(source) - initialising
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if submodule in modules:  # ``from . import models``: the module itself
                module.imports.add(submodule)
            elif source in initialising:  # a name from a package this module is in
                module.imports.add(source)
    module.imports &= set(modules)
    module.imports.discard(module.name)


def find_cycle(modules: dict[str, Module]) -> list[str] | None:
    """One import cycle among ``modules`` (as a path that ends where it starts), or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for target in sorted(modules[name].imports):
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(modules):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def private_uses(module: Module) -> list[str]:
    """Where ``module`` uses underscored names that are not its own: importing one from
    another of our modules, or reading one off anything but ``self``, ``cls`` or ``super()``
    (another module, a class, an object such as ``self.store``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and absolute(module, node).startswith(ROOT):
            found += [
                (node.lineno, f"imports {alias.name}")
                for alias in node.names
                if is_private(alias.name)
            ]
        elif isinstance(node, ast.Attribute) and is_private(node.attr) and not is_own(node.value):
            found.append((node.lineno, ast.unparse(node)))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def is_own(owner: ast.expr) -> bool:
    """Whether ``owner`` is the object whose code this is: ``self``, ``cls`` or ``super()``."""
    if isinstance(owner, ast.Name):
        return owner.id in ("self", "cls")
    return (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "super"
    )


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in FRAMEWORK_NAMES


MODULES = read_package()


def test_the_package_was_read():
    assert {"chatkit_backend.server", "chatkit_backend.store", "chatkit_backend.conf"} <= set(
        MODULES
    )


def test_no_import_cycles():
    cycle = find_cycle(MODULES)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_uses_another_modules_private_names(name):
    assert private_uses(MODULES[name]) == []


def code_modules() -> list[str]:
    # Migrations are generated: their length is Django's choice, not ours.
    return sorted(name for name in MODULES if ".migrations." not in name)


@pytest.mark.parametrize("name", code_modules())
def test_modules_are_at_most_300_lines(name):
    lines = len(MODULES[name].path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{MODULES[name].path.name}: {lines} lines"


@pytest.mark.parametrize("name", code_modules())
def test_functions_are_at_most_60_lines(name):
    long = [
        f"{node.name} (line {node.lineno}): {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(MODULES[name].tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


# -- the checks themselves, on made-up modules -----------------------------------------------


def fake_package(sources: dict[str, str]) -> dict[str, Module]:
    modules = {
        name: Module(name, Path(name), ast.parse(source), name.endswith("__init__"))
        for name, source in sources.items()
    }
    modules = {name.removesuffix(".__init__"): module for name, module in modules.items()}
    for name, module in modules.items():
        module.name = name
    for module in modules.values():
        collect_imports(module, modules)
    return modules


def test_a_cycle_through_a_function_level_import_is_found():
    modules = fake_package(
        {
            "chatkit_backend.a": "from .b import thing\n",
            "chatkit_backend.b": "def f():\n    from .a import other\n",
        }
    )
    assert find_cycle(modules) == ["chatkit_backend.a", "chatkit_backend.b", "chatkit_backend.a"]


def test_a_cycle_through_a_package_init_is_found():
    modules = fake_package(
        {
            "chatkit_backend.pkg.__init__": "from .inner import thing\n",
            "chatkit_backend.pkg.inner": "from chatkit_backend.other import x\n",
            "chatkit_backend.other": "from .pkg.inner import y\n",
        }
    )
    assert find_cycle(modules) is not None


def test_imports_for_type_checkers_only_are_no_cycle():
    modules = fake_package(
        {
            "chatkit_backend.a": "from .b import thing\n",
            "chatkit_backend.b": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .a import other\n",
        }
    )
    assert find_cycle(modules) is None


def test_private_names_of_other_modules_are_found():
    modules = fake_package(
        {
            "chatkit_backend.store": "class DjangoStore: ...\n",
            "chatkit_backend.user": "from .store import DjangoStore, _helper\n"
            "from . import store\n"
            "DjangoStore()._save()\nstore._memo\nDjangoStore._threads\n"
            "self._fine\nrow._meta\nsuper()._serialize(x)\nself.store._items\n",
        }
    )
    found = private_uses(modules["chatkit_backend.user"])
    assert found == [
        "line 1: imports _helper",
        "line 3: DjangoStore()._save",
        "line 4: store._memo",
        "line 5: DjangoStore._threads",
        "line 9: self.store._items",
    ]
