"""Layers point down and no module imports itself round a circle: a walk of every module's imports with `ast`
(function bodies included), no package imported. The ground floor (trainables.spec) imports nothing of the project
above it and no library beyond numpy; tracking reaches none of the science, however many imports away."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sweep", "trainables", "search_spaces", "analysis")
# importer (a module or a package prefix) -> what it must never import (prefixes)
FORBIDDEN = {"trainables": {"analysis", "sweep", "tests"}, "search_spaces": {"sweep", "analysis", "tests"},
             "sweep": {"tests"}, "analysis": {"tests"}}
SCIENCE = {"trainables.data", "trainables.models", "trainables.robustness", "trainables.explain",
           "trainables.previews", "trainables.records", "trainables.training", "trainables.trial"}
HEAVY = ("tensorflow", "keras", "ray", "mlflow", "foolbox", "cv2", "scipy", "optuna", "pandas", "matplotlib")


def module_files(root: Path, packages) -> dict[str, Path]:
    """dotted module name -> file, for every .py file under the packages."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name the file imports, anywhere in it; `from x import y` names x.y (import_graph resolves it to
    the submodule x.y when there is one, else to x)."""
    is_package = path.name == "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path, packages) -> dict[str, set[str]]:
    """module -> the project modules whose import it runs: a name resolves to its longest prefix that is a module,
    plus the packages enclosing that module (Python runs their __init__ first) that do not enclose the importer."""
    files = module_files(root, packages)
    top = set(packages) | {"tests"}
    graph = {}
    for module, path in files.items():
        targets = set()
        for name in imported_names(module, path):
            if name.split(".")[0] not in top:
                continue
            parts = name.split(".")
            while parts and ".".join(parts) not in files:
                parts.pop()
            if not parts:
                targets.add(name)
                continue
            # importing a.b.c runs a/__init__ and a/b/__init__ first, unless they enclose this module (already run)
            while parts:
                target = ".".join(parts)
                if not (module == target or module.startswith(target + ".")) and target in files:
                    targets.add(target)
                parts.pop()
        graph[module] = targets
    return graph


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def upward_imports(graph: dict[str, set[str]], forbidden) -> list[str]:
    return sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets
                  if any(within(module, importer) and any(within(target, bad) for bad in refused)
                         for importer, refused in forbidden.items()))


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every project module that importing `start` runs, however many imports away."""
    seen, stack = set(), [start]
    while stack:
        for target in graph.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start] & graph.keys())))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child] & graph.keys()))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(found)


def test_layers_point_down():
    assert upward_imports(import_graph(ROOT, PACKAGES), FORBIDDEN) == []


def test_no_import_cycles():
    assert cycles(import_graph(ROOT, PACKAGES)) == []


def test_the_walk_sees_every_package_module():
    graph = import_graph(ROOT, PACKAGES)
    assert {"trainables.tracking", "sweep.launcher", "analysis.load", "search_spaces.profiles"} <= graph.keys()
    assert "trainables.spec.keys" in graph["analysis.load"]


def test_the_spec_stands_on_nothing_of_the_project():
    graph = import_graph(ROOT, PACKAGES)
    spec = [module for module in graph if within(module, "trainables.spec")]
    assert len(spec) >= 10
    assert {f"{module} -> {target}" for module in spec for target in graph[module]
            if not (within(target, "trainables.spec") or target == "trainables")} == set()


def test_the_spec_imports_the_standard_library_and_numpy_only():
    found = {}
    for module, path in module_files(ROOT, ("trainables",)).items():
        if within(module, "trainables.spec"):
            for name in imported_names(module, path):
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("numpy", "trainables", "__future__"):
                    found[module] = name
    assert found == {}


def test_tracking_reaches_none_of_the_science():
    graph = import_graph(ROOT, PACKAGES)
    tracking = [module for module in graph if within(module, "trainables.tracking")]
    reached = {f"{module} -> {target}" for module in tracking for target in reachable(graph, module)
               if any(within(target, science) for science in SCIENCE)}
    assert len(tracking) >= 8 and reached == set()


def test_the_trial_config_loads_no_ml_library():
    code = ("import sys\nfrom trainables.spec import TrialConfig\n"
            "TrialConfig(task='pneumothorax', scale='mini', attack_preset='smoke', certify=True, noise_sigma=0.25)"
            ".resolved().as_params()\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_walk_reports_an_upward_import_and_a_cycle(tmp_path):
    _write(tmp_path, {
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from ..high import view\n",  # upward, hidden in a function, relative
        "low/b.py": "from . import c\n",  # b -> c -> b: a cycle through `from package import submodule`
        "low/c.py": "import low.b\n",
        "low/d.py": "from low import e\n",
        "high/__init__.py": "",
        "high/view.py": "from low.a import f\n",
        "mid/__init__.py": "from .heavy import g\n",  # a package whose __init__ pulls a module back up a circle
        "mid/keys.py": "",
        "mid/heavy.py": "from low.e import x\n",
        "low/e.py": "from mid.keys import NAME\n",
    })
    graph = import_graph(tmp_path, ("low", "high", "mid"))
    assert graph["low.d"] == {"low.e"}
    assert graph["low.e"] == {"mid", "mid.keys"}
    assert upward_imports(graph, {"low": {"high"}}) == ["low.a -> high", "low.a -> high.view"]
    assert upward_imports(graph, {"low.e": {"mid.keys"}}) == ["low.e -> mid.keys"]  # prefixes of any depth
    assert reachable(graph, "low.d") == {"low", "low.e", "mid", "mid.keys", "mid.heavy"}  # through __init__s
    assert cycles(graph) == [["high.view", "low.a"], ["low.b", "low.c"], ["low.e", "mid", "mid.heavy"]]


def test_the_walk_passes_a_clean_tree(tmp_path):
    _write(tmp_path, {"low/__init__.py": "", "low/a.py": "import os\n", "high/__init__.py": "",
                      "high/view.py": "from low import a\nfrom low.a import f\n"})
    graph = import_graph(tmp_path, ("low", "high"))
    assert upward_imports(graph, {"low": {"high"}}) == [] and cycles(graph) == []
    assert graph["high.view"] == {"low", "low.a"}
