"""The shape of the code: who imports whom in service/ and schemas/, proved on every run.

Each module is imported alone, in a child of one fresh interpreter (forked when only a few
third-party libraries, SHARED, are loaded: nothing of the project, Flask or durable_rules),
which reports the project modules it loaded and whether Flask and durable_rules came with
them. From that:

- the import graph of the project (module-level imports) has no cycle, and no module
  imports the project inside a function except the few listed here, each with its reason;
- the core (CORE) never loads Flask: the command line, the batch runs and a notebook can
  use it without the web framework;
- schemas/ never loads service/;
- the table of docs/architecture.md is the one this test computes. After a change of the
  imports, write it again with `.venv/bin/python tests/test_imports.py --write`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "service")
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- imports:begin -->", "<!-- imports:end -->"

# Flask-free: what HTTP, the command line and the batch runs share, and the batch runs.
CORE = {
    "schemas",
    "schemas.batch",
    "schemas.case",
    "schemas.common",
    "schemas.fastcase",
    "schemas.guidance",
    "schemas.messages",
    "schemas.problem",
    "schemas.rules",
    "service",
    "service.batch_cli",
    "service.batch_eval",
    "service.batch_input",
    "service.batch_report",
    "service.batch_run",
    "service.batch_workers",
    "service.cli_options",
    "service.cluster",
    "service.cluster_cli",
    "service.cluster_parts",
    "service.coherence",
    "service.conditions",
    "service.config",
    "service.core",
    "service.encoding",
    "service.engine",
    "service.exceptions",
    "service.exit_codes",
    "service.gunicorn_conf",
    "service.jsonio",
    "service.lines",
    "service.messages",
    "service.model",
    "service.names",
    "service.openapi",
    "service.openapi_paths",
    "service.plan",
    "service.problem_texts",
    "service.problems",
    "service.questions",
    "service.resources",
    "service.rulebook",
    "service.tally",
}
# The edges over it: the app, its blueprints and request handling, and the `dispute-guide`
# command (which also serves, through gunicorn, and hashes API keys as the app does).
EDGES = {
    "service.api",
    "service.app",
    "service.batch",
    "service.cli",
    "service.compression",
    "service.errors",
    "service.fastjson",
    "service.fastlane",
    "service.health",
    "service.http",
    "service.observability",
    "service.page",
    "service.security",
    "service.state",
    "service.worker",
}
# Imports of the project inside a function, and why they cannot be at the top.
LATE_IMPORTS = {
    # Every `import service.<module>` runs the package's __init__ first: importing the app
    # (and Flask) there would make the whole core load Flask.
    ("service", "service.app"),
    # gunicorn reads its settings before prometheus_client may be imported (it needs
    # PROMETHEUS_MULTIPROC_DIR set first), and service.state loads it.
    ("service.gunicorn_conf", "service.state"),
}

# Libraries of neither the project, Flask nor durable_rules, loaded once before the children
# are forked, so that each child's import costs only what is recorded.
SHARED = ("marshmallow", "yaml", "werkzeug", "jinja2", "apispec", "pysat.solvers", "gunicorn")

CHILD = r"""
import importlib, json, os, sys
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", sys.argv[2])
shared, names = sys.argv[3].split(","), sys.argv[4:]
for library in shared:
    importlib.import_module(library)
ours = ("schemas", "service")
assert "flask" not in sys.modules and not any(m.split(".")[0] in ours for m in sys.modules)
for name in names:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(name)
            report = {
                "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ours),
                "flask": "flask" in sys.modules,
                "engine": "durable_rules_engine" in sys.modules,
            }
        except BaseException as error:
            report = {"error": f"{type(error).__name__}: {error}"}
        with os.fdopen(write, "w") as out:
            json.dump(report, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as data:
        result = json.load(data)
    os.waitpid(pid, 0)
    print(json.dumps([name, result]), flush=True)
"""


def module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            names.append(package if path.stem == "__init__" else f"{package}.{path.stem}")
    return sorted(names)


def _path(name: str) -> Path:
    parts = name.split(".")
    if len(parts) == 1:
        return ROOT / parts[0] / "__init__.py"
    return ROOT / parts[0] / f"{parts[1]}.py"


def _targets(node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The project modules an import statement loads (its package's __init__ aside)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    if node.level or not node.module:
        raise AssertionError(f"relative import of {node.module!r}: the project uses absolute ones")
    found = set()
    for alias in node.names:
        full = f"{node.module}.{alias.name}"
        if full in known:
            found.add(full)
        elif node.module in known:
            found.add(node.module)
    return found


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def import_graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """(module -> the project modules its module-level code imports, the imports of the
    project placed inside functions)."""
    known = set(module_names())
    graph: dict[str, set[str]] = {}
    late: set[tuple[str, str]] = set()
    for name in known:
        tree = ast.parse(_path(name).read_text(encoding="utf-8"))
        top: set[str] = set()
        pending: list[tuple[ast.AST, bool]] = [(node, True) for node in tree.body]
        while pending:
            node, module_level = pending.pop()
            if isinstance(node, ast.stmt) and _is_type_checking(node):
                continue  # for annotations only: never runs
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = _targets(node, known) - {name}
                if module_level:
                    top |= targets
                else:
                    late |= {(name, target) for target in targets}
            inner = module_level and not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(node, ast.ClassDef):
                inner = module_level
            pending.extend((child, inner) for child in ast.iter_child_nodes(node))
        graph[name] = top
    return graph, late


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return trail[trail.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        trail.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def closure(graph: dict[str, set[str]], name: str) -> set[str]:
    """The modules importing `name` loads by the graph: its imports' imports, and the
    package of each."""
    seen: set[str] = set()
    pending = [name]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        pending.extend(graph[module])
        pending.append(module.split(".")[0])
    return seen


def loads(tmp: Path) -> dict[str, dict]:
    """What importing each module alone loads, from the children of one fresh interpreter."""
    names = module_names()
    run = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(ROOT), str(tmp), ",".join(SHARED), *names],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert run.returncode == 0, run.stderr
    reports = dict(json.loads(line) for line in run.stdout.splitlines())
    failed = {name: r["error"] for name, r in reports.items() if "error" in r}
    assert not failed, failed
    return reports


def table(graph: dict[str, set[str]], reports: dict[str, dict]) -> str:
    rows = [
        "| module | core | imports (of the project, at module level) "
        "| project modules loaded | Flask | durable_rules |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(reports):
        report = reports[name]
        imports = ", ".join(f"`{t}`" for t in sorted(graph[name])) or "—"
        rows.append(
            f"| `{name}` | {'yes' if name in CORE else 'edge'} | {imports} "
            f"| {len(report['loaded'])} | {'yes' if report['flask'] else 'no'} "
            f"| {'yes' if report['engine'] else 'no'} |"
        )
    return "\n".join(rows)


def documented() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()


# --- the tests ------------------------------------------------------------------------------


def test_every_module_is_core_or_edge():
    names = set(module_names())
    assert names - CORE - EDGES == set(), "name each new module in CORE or EDGES"
    assert (CORE | EDGES) - names == set(), "a module named here no longer exists"
    assert CORE & EDGES == set()


def test_the_import_graph_has_no_cycle_and_no_late_import_dodging_one():
    graph, late = import_graph()
    assert find_cycle(graph) is None, find_cycle(graph)
    assert late == LATE_IMPORTS


def test_each_module_alone_keeps_to_its_layer_and_the_table_is_current(tmp_path):
    graph, _ = import_graph()
    reports = loads(tmp_path)
    assert set(reports) == set(module_names())
    with_flask = sorted(name for name in CORE if reports[name]["flask"])
    assert with_flask == [], f"core modules that load Flask: {with_flask}"
    schemas_on_service = {
        name: [m for m in r["loaded"] if m.startswith("service")]
        for name, r in reports.items()
        if name.startswith("schemas")
    }
    assert all(not loaded for loaded in schemas_on_service.values()), schemas_on_service
    for name, report in reports.items():  # the graph from the sources says what loads
        assert closure(graph, name) <= set(report["loaded"]), name
    assert documented() == table(graph, reports), (
        "docs/architecture.md is out of date: .venv/bin/python tests/test_imports.py --write"
    )


def write_table() -> None:
    import tempfile

    graph, _ = import_graph()
    with tempfile.TemporaryDirectory() as tmp:
        reports = loads(Path(tmp))
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + table(graph, reports) + "\n" + text[end:], "utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_imports.py --write  (the table of the docs)")
    write_table()
