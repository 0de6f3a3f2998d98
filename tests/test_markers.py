"""The quick loop (`pytest -m "not slow and not slurm and not browser and not gpu"`) stays quick: every test
that runs Snakemake, uses the `smoke_run` fixture or runs a script under benchmarks/ is marked `slow`, by
its own decorator, its class's or the module's `pytestmark`.

Read from the source with `ast` (nothing is imported or run): a test counts as heavy when its body, a
module-level helper it calls (followed through further helpers), or a fixture it requests (from its module
or conftest.py, followed through the fixtures those request) calls `run_snakemake(`, starts the
`snakemake` executable, requests `smoke_run`, or names a `benchmarks/<script>.py`.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent
BENCHMARK_SCRIPT = re.compile(r"(?:^|/)benchmarks/[\w.-]+\.py$")


def _is_mark(node: ast.expr, name: str) -> bool:
    """`pytest.mark.<name>` or `pytest.mark.<name>(...)`."""
    if isinstance(node, ast.Call):
        node = node.func
    return (
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "mark"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "pytest"
    )


def _marks(nodes) -> list[ast.expr]:
    """The mark expressions of a decorator list or a `pytestmark` value (one mark or a list of them)."""
    out: list[ast.expr] = []
    for node in nodes:
        out.extend(node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node])
    return out


def _usefixtures(marks: list[ast.expr]) -> set[str]:
    return {
        arg.value
        for mark in marks
        if isinstance(mark, ast.Call) and _is_mark(mark, "usefixtures")
        for arg in mark.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }


def _is_fixture(function: ast.FunctionDef) -> bool:
    def fixture(node: ast.expr) -> bool:
        node = node.func if isinstance(node, ast.Call) else node
        return (isinstance(node, ast.Attribute) and node.attr == "fixture") or (
            isinstance(node, ast.Name) and node.id == "fixture"
        )

    return any(fixture(d) for d in function.decorator_list)


def _own_signals(function: ast.FunctionDef) -> tuple[set[str], set[str], set[str]]:
    """What a function does itself: (heavy things, module functions it calls, fixtures it requests)."""
    heavy: set[str] = set()
    calls: set[str] = set()
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # a docstring may mention anything
    for node in (child for statement in body for child in ast.walk(statement)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name == "run_snakemake":
                heavy.add("calls run_snakemake(")
            elif isinstance(func, ast.Name):
                calls.add(func.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and BENCHMARK_SCRIPT.search(node.value):
            heavy.add(f"runs {node.value}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
            right, left = node.right.value, node.left
            if right == "snakemake":  # <bin> / "snakemake"
                heavy.add("starts the snakemake executable")
            elif (  # <repo> / "benchmarks" / "<script>.py"
                isinstance(right, str)
                and right.endswith(".py")
                and isinstance(left, ast.BinOp)
                and isinstance(left.right, ast.Constant)
                and left.right.value == "benchmarks"
            ):
                heavy.add(f"runs benchmarks/{right}")
        elif isinstance(node, ast.List) and node.elts:
            first = node.elts[0]
            if isinstance(first, ast.Constant) and first.value == "snakemake":  # ["snakemake", ...]
                heavy.add("starts the snakemake executable")
    args = function.args
    fixtures = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    fixtures |= _usefixtures(_marks(function.decorator_list))
    return heavy, calls, fixtures


class Module:
    """One test file's tests, helpers and fixtures (with conftest.py's fixtures behind its own)."""

    def __init__(self, source: str, shared_fixtures: dict[str, ast.FunctionDef] | None = None) -> None:
        self.tree = ast.parse(source)
        self.helpers: dict[str, ast.FunctionDef] = {}
        self.fixtures: dict[str, ast.FunctionDef] = dict(shared_fixtures or {})
        self.module_marks: list[ast.expr] = []
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef):
                if _is_fixture(node):
                    self.fixtures[node.name] = node
                elif not node.name.startswith("test"):
                    self.helpers[node.name] = node
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
            ):
                self.module_marks = _marks([node.value])

    def tests(self):
        """(name, function, marks that apply to it), classes included."""
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                yield node.name, node, self.module_marks + _marks(node.decorator_list)
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                class_marks = _marks(node.decorator_list)
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test"):
                        marks = self.module_marks + class_marks + _marks(item.decorator_list)
                        yield f"{node.name}::{item.name}", item, marks

    def heavy(self, function: ast.FunctionDef, marks: list[ast.expr]) -> list[str]:
        """Why this test is heavy (empty: it is not), each reason with the helpers or fixtures it came by."""
        reasons: set[str] = set()
        seen: set[tuple[str, str]] = set()
        todo: list[tuple[ast.FunctionDef, str, set[str]]] = [(function, "", _usefixtures(marks))]
        while todo:
            current, via, outer_fixtures = todo.pop()
            heavy, calls, fixtures = _own_signals(current)
            fixtures |= outer_fixtures
            reasons |= {f"{reason}{via}" for reason in heavy}
            if "smoke_run" in fixtures:
                reasons.add(f"uses the smoke_run fixture{via}")
            for kind, names, known in (("helper", calls, self.helpers), ("fixture", fixtures, self.fixtures)):
                for name in sorted(names & known.keys() - {"smoke_run"}):
                    if (kind, name) not in seen:
                        seen.add((kind, name))
                        label = name if kind == "helper" else f"fixture {name}"
                        todo.append((known[name], f" (via {label}){via}", set()))
        return sorted(reasons)

    def unmarked_heavy_tests(self) -> dict[str, list[str]]:
        return {
            name: reasons
            for name, function, marks in self.tests()
            if not any(_is_mark(mark, "slow") for mark in marks) and (reasons := self.heavy(function, marks))
        }


def conftest_fixtures() -> dict[str, ast.FunctionDef]:
    tree = ast.parse((TESTS / "conftest.py").read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and _is_fixture(n)}


def test_every_test_that_runs_snakemake_the_smoke_dag_or_a_benchmark_script_is_marked_slow():
    shared = conftest_fixtures()
    assert "smoke_run" in shared  # the fixture this guard knows by name is still where it looks
    unmarked = {
        f"tests/{path.name}::{name}": reasons
        for path in sorted(TESTS.glob("test_*.py"))
        for name, reasons in Module(path.read_text(), shared).unmarked_heavy_tests().items()
    }
    assert not unmarked, "mark these tests @pytest.mark.slow (the quick loop must stay quick):\n" + "\n".join(
        f"  {name}: {'; '.join(reasons)}" for name, reasons in unmarked.items()
    )


# ---- the guard itself, on made-up test files ---------------------------------------------------------

SAMPLE = textwrap.dedent(
    '''
    import subprocess, sys
    import pytest
    from smoke import REPO, run_snakemake


    def _plan(tmp_path):
        """run_snakemake( in a docstring is not a call"""
        return run_snakemake(tmp_path, "-n", "all")


    def _plan_twice(tmp_path):
        return _plan(tmp_path), _plan(tmp_path)


    @pytest.fixture
    def built(tmp_path):
        return run_snakemake(tmp_path, "all")


    @pytest.fixture
    def built_on_smoke(smoke_run):
        return smoke_run


    def test_direct(tmp_path):
        run_snakemake(tmp_path, "all")


    def test_through_two_helpers(tmp_path):
        _plan_twice(tmp_path)


    def test_smoke(smoke_run):
        assert smoke_run


    @pytest.mark.usefixtures("smoke_run")
    def test_smoke_by_usefixtures():
        pass


    def test_fixture(built):
        assert built


    def test_fixture_of_a_fixture(built_on_smoke):
        assert built_on_smoke


    def test_benchmark_script():
        subprocess.run([sys.executable, "benchmarks/bench_train_step.py"], check=True)


    def test_benchmark_script_by_path():
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_dcp_metrics.py")], check=True)


    def test_snakemake_executable(tmp_path):
        subprocess.run([str(REPO / "snakemake"), "-n"], check=True)


    def test_snakemake_on_the_path(tmp_path):
        subprocess.run(["snakemake", "-n"], check=True)


    class TestGrouped:
        def test_in_a_class(self, tmp_path):
            run_snakemake(tmp_path, "all")


    @pytest.mark.slow
    def test_marked(tmp_path):
        run_snakemake(tmp_path, "all")


    @pytest.mark.slow
    @pytest.mark.parametrize("n", [1, 2])
    def test_marked_and_parametrized(tmp_path, n, smoke_run):
        run_snakemake(tmp_path, "all")


    @pytest.mark.slow
    class TestMarkedClass:
        def test_in_a_marked_class(self, smoke_run):
            pass


    def test_quick(tmp_path):
        """Mentions benchmarks/bench_train_step.py and run_snakemake( only here."""
        from faithful import FaithfulCUT  # a helper from benchmarks/, imported not run
        assert "results/benchmarks/train.tsv"
    '''
)


def test_the_guard_names_each_unmarked_heavy_test_and_how_it_got_heavy():
    found = Module(SAMPLE, conftest_fixtures()).unmarked_heavy_tests()
    assert found == {
        "test_direct": ["calls run_snakemake("],
        "test_through_two_helpers": ["calls run_snakemake( (via _plan) (via _plan_twice)"],
        "test_smoke": ["uses the smoke_run fixture"],
        "test_smoke_by_usefixtures": ["uses the smoke_run fixture"],
        "test_fixture": ["calls run_snakemake( (via fixture built)"],
        "test_fixture_of_a_fixture": ["uses the smoke_run fixture (via fixture built_on_smoke)"],
        "test_benchmark_script": ["runs benchmarks/bench_train_step.py"],
        "test_benchmark_script_by_path": ["runs benchmarks/bench_dcp_metrics.py"],
        "test_snakemake_executable": ["starts the snakemake executable"],
        "test_snakemake_on_the_path": ["starts the snakemake executable"],
        "TestGrouped::test_in_a_class": ["calls run_snakemake("],
    }


def test_a_module_pytestmark_marks_every_test_in_it():
    for mark in ("pytest.mark.slow", "[pytest.mark.slow, pytest.mark.usefixtures('one_torch_thread')]"):
        assert Module(f"pytestmark = {mark}\n" + SAMPLE, conftest_fixtures()).unmarked_heavy_tests() == {}
    other = Module("pytestmark = pytest.mark.browser\n" + SAMPLE, conftest_fixtures())
    assert "test_direct" in other.unmarked_heavy_tests()  # only `slow` keeps a test out of the quick loop
