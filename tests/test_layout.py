"""The shape of tests/ and bench/, proved on their syntax trees.

- No test module imports another test module (nor conftest): what they share is in
  tests/support/ (and tests/e2e/browser.py for the browser tests).
- Cases are generated in one place, tests/support/cases.py: no other module of tests/ or
  bench/ draws random values or composes a hypothesis strategy of cases of its own, and the
  benches that use cases take them from it. Allowed: shuffling a list of work; generating
  rules (tests/support/rulebooks.py and the modules building rulebooks with it); a
  composite that draws the generator's cases and mutates them.
- bench/ reaches the tests' helpers as the `tests.support` package, never by putting
  tests/ itself on sys.path.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.server import ROOT

TESTS = ROOT / "tests"
BENCH = ROOT / "bench"
GENERATOR = TESTS / "support" / "cases.py"
# Generates rules, not cases (seeded too): the scale tests' large rulebooks.
RULE_GENERATOR = TESTS / "support" / "rulebooks.py"
# Drawing values: the methods of random.Random, and hypothesis' way to compose a strategy.
DRAWS = {"random", "randint", "randrange", "choice", "choices", "sample", "uniform", "gauss"}
DRAWS |= {"getrandbits", "composite"}


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (functions included), as dotted names;
    `from package import name` counts as `package.name` too (it may be a module)."""
    package = ".".join(path.relative_to(ROOT).parent.parts)
    names: set[str] = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's own package upwards
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def module_paths() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_test_module_imports_another_test_module():
    modules = module_paths()
    assert len(modules) > 20
    stems = {p.stem for p in modules}
    found = []
    for path in modules:
        for name in imported(path):
            last = name.split(".")[-1]
            if last in stems or last == "conftest":
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    assert found == []


def test_the_support_modules_import_no_test_module():
    stems = {p.stem for p in module_paths()}
    for path in python_files(TESTS / "support") + [TESTS / "e2e" / "browser.py"]:
        assert not {n.split(".")[-1] for n in imported(path)} & (stems | {"conftest"}), path


def draws(path: Path) -> list[str]:
    """Where a file draws random values: calls of random.Random's methods (on anything) and
    hypothesis' composite. `rng.shuffle(list)` reorders work, and is allowed."""
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Attribute) and node.attr in DRAWS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "random":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} from random import")
    return found


def generates_rules(path: Path) -> bool:
    """Rules, not cases: the rule generator, and the modules that build rulebooks with it."""
    return path == RULE_GENERATOR or "tests.support.rulebooks" in imported(path)


def composites_from_the_generator(path: Path) -> bool:
    """Every hypothesis composite of the file draws its cases from the generator's strategy
    (then changes them: a mutation of generated cases, not a second generator)."""
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.FunctionDef) and any(
            "composite" in ast.unparse(d) for d in node.decorator_list
        ):
            calls = [c for c in ast.walk(node) if isinstance(c, ast.Call)]
            if not any(ast.unparse(c.func) == "strategy" for c in calls):
                return False
    return True


def test_cases_are_generated_in_one_place_only():
    assert draws(GENERATOR), "the check sees the generator's own draws"
    found = []
    for path in python_files(TESTS) + python_files(BENCH):
        if path == GENERATOR or generates_rules(path):
            continue
        own = draws(path)
        if composites_from_the_generator(path):
            own = [d for d in own if not d.endswith(".composite")]
        found += own
    assert found == []


def test_the_benches_take_their_cases_from_the_tests_generator():
    users = set()
    for path in python_files(BENCH):
        names = imported(path)
        if "tests.support.cases" in names or any(
            n.startswith("tests.support.cases.") for n in names
        ):
            users.add(path.name)
        if not generates_rules(path):
            assert "random" not in names and "hypothesis" not in names, path
        assert not any(n.startswith("tests.") and not n.startswith("tests.support") for n in names)
        assert not any(n in ("cases", "batch_cases", "conftest") for n in names), path
    assert {"engine.py", "load.py", "batch.py", "cluster.py"} <= users


def test_bench_puts_the_repository_on_sys_path_not_tests():
    for path in python_files(BENCH):
        for node in ast.walk(tree(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("insert", "append")
                and ast.unparse(node.func.value) == "sys.path"
            ):
                assert '"tests"' not in ast.unparse(node), (path, ast.unparse(node))
