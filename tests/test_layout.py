"""The project stands alone, and its imports run one way (README, Layout).

A clone has nothing beside it, so no file may point outside the project; the
production image carries neither the tests nor the development tools; and
services never import the layers above them, so that a newcomer can read
each room without the ones built on it.
"""

import ast
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".git", ".venv", "node_modules", "staticfiles", ".hypothesis", ".make"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".html", ".cfg", ".ini", ""}

# Who may import whom, from the bottom up. A module may import its own layer
# and the layers below it, never one above.
LAYERS = [
    ["dashboard.choices", "dashboard.times", "dashboard.kept"],
    # The alerts' models live in their room but belong with the others.
    ["dashboard.models", "dashboard.alerts.models"],
    [
        "dashboard.ingest",
        "dashboard.storage",
        # The sync errors' services: grouping failures and keeping the groups.
        "dashboard.syncerrors.signatures",
        "dashboard.syncerrors.changes",
        "dashboard.syncerrors.rollups",
        "dashboard.syncerrors.expiry",
        "dashboard.syncerrors.grouping",
        "dashboard.syncerrors.selectors",
        # The health services: the cadence, the hourly rollups, the stuck steps, the figures.
        "dashboard.health.cadence",
        "dashboard.health.rollups",
        "dashboard.health.stuck",
        "dashboard.health.figures",
        # Alert rules, their incidents and the delivery of their notices.
        "dashboard.alerts",
    ],
    ["dashboard.tasks"],
    ["dashboard.steps", "dashboard.syncerrors", "dashboard.web", "dashboard.health"],
    ["dashboard.admin", "dashboard.urls", "dashboard.management", "dashboard.apps"],
]


def project_files():
    for folder, folders, files in os.walk(ROOT):
        folders[:] = [name for name in folders if name not in SKIPPED_DIRS | {"__pycache__"}]
        for name in files:
            path = Path(folder) / name
            if path.suffix in TEXT_SUFFIXES and not name.startswith(("db.sqlite3", ".test-db")):
                yield path


def python_modules(*packages: str):
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file, lazy ones included:
    `from package import module` names the module, not the package."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                is_module = (ROOT / full.replace(".", "/")).with_suffix(".py").exists()
                names.add(full if is_module else node.module)
    return names


def layer_of(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    return None


def test_no_file_refers_to_a_path_outside_the_project():
    outside = []
    climbing = re.compile(r"(?:\.\./)+[\w.-]+")
    parents = re.compile(r"Path\(__file__\)\.resolve\(\)((?:\.parent)+)")
    for path in project_files():
        text = path.read_text(errors="replace")
        for match in climbing.finditer(text):
            target = (path.parent / match.group()).resolve()
            if not target.is_relative_to(ROOT):
                outside.append(f"{path.relative_to(ROOT)}: {match.group()}")
        for match in parents.finditer(text):
            if match.group(1).count(".parent") > len(path.relative_to(ROOT).parts):
                outside.append(f"{path.relative_to(ROOT)}: {match.group()}")
    assert outside == []


def test_no_product_module_imports_the_tests_or_the_development_tools():
    offending = {
        module: sorted(
            name for name in imported_modules(path) if name.split(".")[0] in {"tests", "devtools"}
        )
        for module, path in python_modules("dashboard", "syncstatus")
    }
    assert {module: names for module, names in offending.items() if names} == {}


def test_imports_run_from_the_upper_layers_down_only():
    upward = []
    for module, path in python_modules("dashboard"):
        own = layer_of(module)
        for name in imported_modules(path):
            imported = layer_of(name)
            if own is not None and imported is not None and imported > own:
                upward.append(f"{module} imports {name}")
    assert upward == []


def test_the_production_image_leaves_out_the_tests_and_the_development_tools():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {"tests", "devtools"} <= ignored


def test_no_modules_import_each_other():
    modules = dict(python_modules("dashboard", "syncstatus", "devtools"))

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {
        module: {resolve(name) for name in imported_modules(path)} - {None, module}
        for module, path in modules.items()
    }
    cycles, done = [], set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            cycles.append(" -> ".join(trail[trail.index(module) :] + [module]))
            return
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []
