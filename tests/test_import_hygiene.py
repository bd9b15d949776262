"""Layer boundaries: eas alone and pure, capture on eas only, addon and viewer apart, no cycles, no deferred imports.

The layers (docs/ARCHITECTURE.md): `eas_inspector -> addon | viewer -> capture -> eas`. import-linter checks the
same contracts from pyproject.toml; these tests hold them without it, and add what it cannot see (modules loaded
at run time, imports placed inside functions).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# What each layer must never load. `eas` is the protocol layer: bytes in, values out (docs/ARCHITECTURE.md).
FORBIDDEN_FOR_EAS = ("mitmproxy", "textual", "rich", "addon", "viewer", "eas_inspector")
FORBIDDEN_FOR_ADDON = ("textual", "viewer", "eas_inspector")
FORBIDDEN_FOR_CAPTURE = ("textual", "rich", "addon", "viewer", "eas_inspector")
FORBIDDEN_FOR_VIEWER = ("addon", "eas_inspector")
# The capture modules that read or write mitmproxy's own formats; no other capture module imports mitmproxy.
CAPTURE_MITMPROXY_MODULES = (
    "capture/mitm.py", "capture/har.py", "capture/share.py", "capture/importers/mitm.py",
    "capture/importers/mitm_state.py",
)
# The packages and the packages each may import (the standard library and third-party libraries aside).
LAYERS = {
    "eas": set(),
    "capture": {"eas"},
    "addon": {"capture", "eas"},
    "viewer": {"capture", "eas"},
    "eas_inspector": {"addon", "capture", "eas", "viewer"},
}
# Imports inside a function that are genuinely optional, (file, module): nothing else is imported late.
OPTIONAL_LATE_IMPORTS = {
    # written by setup.py only when it compiled the codec; absent from a source checkout
    ("eas/_native.py", "eas._build_digests"),
}
# Imports that would give the protocol layer network, process or file-system side effects.
IO_MODULES = ("socket", "ssl", "http.client", "urllib.request", "requests", "subprocess", "asyncio", "shutil")


def loaded_modules(package: str) -> set[str]:
    """Import `package` and every submodule in a fresh interpreter; return sys.modules afterwards."""
    probe = (
        "import importlib, json, pkgutil, sys\n"
        f"package = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def offenders(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_eas_and_all_its_submodules_load_no_other_layer() -> None:
    modules = loaded_modules("eas")
    assert "eas.query" in modules and "eas.wbxml" in modules
    assert offenders(modules, FORBIDDEN_FOR_EAS) == []


def test_addon_does_not_load_the_viewer() -> None:
    modules = loaded_modules("addon")
    assert "addon.activesync" in modules
    assert offenders(modules, FORBIDDEN_FOR_ADDON) == []


def test_cli_frame_loads_no_front_end() -> None:
    # subcommands import their implementation when they run; the frame itself stays light
    probe = "import json, sys, eas_inspector.cli; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout))
    assert offenders(modules, ("mitmproxy", "textual", "addon", "viewer")) == []


# --------------------------------------------------------------------------------------------- static check


def python_files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


def imported_names(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, relative imports resolved; plus literal
    `importlib.import_module("x")` / `__import__("x")` targets."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parts[:-1])  # the package a relative import starts from
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level - 1 <= len(package) else []
                if node.level - 1 > len(package) or not base:
                    names.append((node.lineno, "<relative import above the top package>"))
                    continue
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.append((node.lineno, module))
            names.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.append((node.lineno, node.args[0].value))
    return names


def builtin_open_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
    ]


def matches(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


@pytest.mark.parametrize("path", python_files("eas"), ids=lambda p: str(p.relative_to(REPO)))
def test_eas_sources_import_no_other_layer_and_no_io(path: Path) -> None:
    bad = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for line, name in imported_names(path)
        if name.startswith("<") or matches(name, FORBIDDEN_FOR_EAS + IO_MODULES)
    ]
    assert bad == []
    assert builtin_open_calls(path) == [], f"{path.relative_to(REPO)} opens files; eas takes bytes"


@pytest.mark.parametrize("path", python_files("addon"), ids=lambda p: str(p.relative_to(REPO)))
def test_addon_sources_do_not_import_the_viewer(path: Path) -> None:
    bad = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for line, name in imported_names(path)
        if name.startswith("<") or matches(name, FORBIDDEN_FOR_ADDON)
    ]
    assert bad == []


def test_static_check_sees_what_it_must(tmp_path: Path) -> None:
    bad = tmp_path / "eas" / "sub" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "import importlib, socket\n"
        "from mitmproxy import http\n"
        "from ... import viewer\n"
        "from ...capture.reader import CaptureReader\n"
        "from .. import errors\n"
        "importlib.import_module('textual.app')\n"
        "open('/etc/passwd')\n"
    )
    names = [name for _, name in imported_names(bad, root=tmp_path)]
    assert "socket" in names and "mitmproxy" in names and "textual.app" in names
    assert "eas.errors" in names
    assert names.count("<relative import above the top package>") == 2
    assert builtin_open_calls(bad) == [7]


# ------------------------------------------------------------------------------------------ the capture layer


def test_capture_and_all_its_submodules_load_no_front_end() -> None:
    modules = loaded_modules("capture")
    assert "capture.writer" in modules and "capture.mitm" in modules
    assert offenders(modules, FORBIDDEN_FOR_CAPTURE) == []


def test_reading_and_writing_a_capture_loads_no_mitmproxy() -> None:
    probe = (
        "import json, sys\n"
        "import capture.reader, capture.writer, capture.redaction, capture.xml_export\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    assert offenders(set(json.loads(result.stdout)), ("mitmproxy", *FORBIDDEN_FOR_CAPTURE)) == []


@pytest.mark.parametrize("path", python_files("capture"), ids=lambda p: str(p.relative_to(REPO)))
def test_capture_sources_import_eas_only(path: Path) -> None:
    shown = path.relative_to(REPO).as_posix()
    bad = [
        f"{shown}:{line}: {name}"
        for line, name in imported_names(path)
        if name.startswith("<")
        or matches(name, FORBIDDEN_FOR_CAPTURE)
        or (matches(name, ("mitmproxy",)) and shown not in CAPTURE_MITMPROXY_MODULES)
    ]
    assert bad == []


# ------------------------------------------------------------------------------------------- the viewer layer


def test_the_viewer_does_not_load_the_addon() -> None:
    modules = loaded_modules("viewer")
    assert "viewer.app" in modules and "capture.reader" in modules
    assert offenders(modules, FORBIDDEN_FOR_VIEWER) == []


@pytest.mark.parametrize("path", python_files("viewer"), ids=lambda p: str(p.relative_to(REPO)))
def test_viewer_sources_do_not_import_the_addon(path: Path) -> None:
    bad = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for line, name in imported_names(path)
        if name.startswith("<") or matches(name, FORBIDDEN_FOR_VIEWER)
    ]
    assert bad == []


# ------------------------------------------------------------------------------- layers, cycles, late imports


def is_module(name: str, root: Path = REPO) -> bool:
    base = root.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(root: Path = REPO) -> dict[str, set[str]]:
    """For each layer package, the other layer packages its files import (anywhere in a file)."""
    graph: dict[str, set[str]] = {}
    for package in LAYERS:
        imported = {name.split(".")[0] for path in python_files(package) for _, name in imported_names(path, root)}
        graph[package] = {other for other in imported if other in LAYERS and other != package}
    return graph


def test_each_package_imports_only_the_layers_below_it() -> None:
    graph = package_imports()
    assert graph["eas_inspector"], "the scan sees no import at all"
    assert {package: sorted(graph[package] - LAYERS[package]) for package in graph if graph[package] - LAYERS[package]} == {}


def module_level_imports(path: Path, root: Path = REPO) -> set[str]:
    """The project modules a file imports when it is loaded: module-level imports, `if TYPE_CHECKING:` left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parts[:-1])

    def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                yield from statements(node.orelse)
            elif isinstance(node, (ast.If, ast.Try)):
                yield from statements(node.body)
                yield from statements(node.orelse)
                for handler in getattr(node, "handlers", []):
                    yield from statements(handler.body)
            else:
                yield node

    targets: set[str] = set()
    for node in statements(tree.body):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                targets.add(f"{module}.{alias.name}" if is_module(f"{module}.{alias.name}", root) else module)
    return {target for target in targets if target.split(".")[0] in LAYERS and is_module(target, root)}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk of the graph closes, each as the modules along it."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the walk's path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return cycles


def test_no_import_cycles_between_modules() -> None:
    graph = {
        module_name(path): module_level_imports(path)
        for package in ("eas", "capture", "addon", "viewer")
        for path in python_files(package)
    }
    assert graph["capture.writer"] >= {"capture.model", "capture.schema"}, "the scan sees no import"
    assert import_cycles(graph) == []


def late_imports(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """(line, module) of every import statement inside a function body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parts[:-1])
    found: set[tuple[int, str]] = set()
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                found.update((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - (node.level - 1)] if node.level else []
                found.add((node.lineno, ".".join(base + ([node.module] if node.module else []))))
    return sorted(found)


@pytest.mark.parametrize(
    "path",
    [path for package in ("eas", "capture", "addon", "viewer") for path in python_files(package)],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_no_import_inside_a_function(path: Path) -> None:
    shown = path.relative_to(REPO).as_posix()
    late = [f"{shown}:{line}: {module}" for line, module in late_imports(path) if (shown, module) not in OPTIONAL_LATE_IMPORTS]
    assert late == []


def test_the_layer_scans_see_what_they_must(tmp_path: Path) -> None:
    package = tmp_path / "capture"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from capture import b\n"
        "if TYPE_CHECKING:\n"
        "    from capture.c import Thing\n"
        "def f():\n"
        "    import addon.metadata\n"
        "    def g():\n"
        "        from .c import other\n"
    )
    (package / "b.py").write_text("import capture.a\n")
    (package / "c.py").write_text("")
    assert module_level_imports(package / "a.py", root=tmp_path) == {"capture.b"}
    assert late_imports(package / "a.py", root=tmp_path) == [(6, "addon.metadata"), (8, "capture.c")]
    assert import_cycles({"capture.a": {"capture.b"}, "capture.b": {"capture.a"}}) == [
        ["capture.a", "capture.b", "capture.a"]
    ]
    assert import_cycles({"capture.a": {"capture.b"}, "capture.b": set()}) == []


def test_the_import_linter_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.is_file():
        pytest.skip("import-linter is not installed (it comes with the test extra: pip install -e .[test])")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
    assert "0 broken" in result.stdout
