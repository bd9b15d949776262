"""Layer boundaries: eas stays pure (no mitmproxy, textual, addon, viewer, no I/O imports); addon never imports viewer."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# What each layer must never load. `eas` is the protocol layer: bytes in, values out (docs/ARCHITECTURE.md).
FORBIDDEN_FOR_EAS = ("mitmproxy", "textual", "rich", "addon", "viewer", "eas_inspector")
FORBIDDEN_FOR_ADDON = ("textual", "viewer", "eas_inspector")
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
        "from ...addon.store import CaptureReader\n"
        "from .. import errors\n"
        "importlib.import_module('textual.app')\n"
        "open('/etc/passwd')\n"
    )
    names = [name for _, name in imported_names(bad, root=tmp_path)]
    assert "socket" in names and "mitmproxy" in names and "textual.app" in names
    assert "eas.errors" in names
    assert names.count("<relative import above the top package>") == 2
    assert builtin_open_calls(bad) == [7]
