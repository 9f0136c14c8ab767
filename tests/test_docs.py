"""Every ``python`` code block in README.md and docs/*.md runs, as a reader would run it, and
every command of their ``bash`` blocks is checked (how: the comment above ``CHECKS``), and the API
reference documents each public name once.

The blocks of one page run in order in a fresh namespace (so a block may use the names that
earlier blocks of its page defined, and no other page's); the pages run one after another in one
fresh Python process, with JAX's default configuration: float32, no ``jax_enable_x64``, none of
what ``tests/conftest.py`` sets for the other tests (only its XLA_FLAGS, the suite's compile
settings, carry over: they change how XLA compiles, not what the examples compute). A block that
cannot run here (one that needs several hosts, say) starts with the line ``# not run: <why>``; the
test checks that such a block still parses.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
NOT_RUN = "# not run:"

# Runs the pages one after another in one process (one start of JAX for all of them), each page
# in a fresh namespace and a folder of its own, its blocks in order; a failing block ends its page,
# with the page and line in the traceback, and the next page runs. A page must leave JAX's global
# configuration as it found it (a later page would otherwise run under it): that is checked too.
RUNNER = """
import json, os, sys, traceback
import jax  # imported, not configured: each page imports what it uses
pages, results = json.load(sys.stdin), {}
for page, folder, blocks in pages:
    os.chdir(folder)
    config = dict(jax.config.values)
    try:
        namespace = {"__name__": "__main__"}
        for where, source in blocks:
            exec(compile(source, where, "exec"), namespace)
        if dict(jax.config.values) != config:
            raise AssertionError(f"{page} changed JAX's global configuration")
        results[page] = None
    except BaseException:
        results[page] = traceback.format_exc()
with open(sys.argv[1], "w") as f:
    json.dump(results, f)
"""


def python_blocks(page: pathlib.Path) -> list[tuple[int, str]]:
    """``(first line number, source)`` of each ```` ```python ```` block of ``page``."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


def test_the_block_finder_takes_python_fences_only(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n\n```python\ny = x\n```\n")
    assert python_blocks(page) == [(3, "x = 1\n"), (11, "y = x\n")]


PAGES = [page for page in sorted([ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")])
         if python_blocks(page)]


def test_the_readme_and_the_tutorial_have_examples():
    names = {str(page.relative_to(ROOT)) for page in PAGES}
    assert {"README.md", "docs/tutorial.md"} <= names, names


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory):
    """Every page's examples, run by :data:`RUNNER` in one fresh process: page name -> None, or
    the traceback of its failing block."""
    work = tmp_path_factory.mktemp("pages")
    pages = []
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        to_run = []
        for line, source in python_blocks(page):
            where = f"{name}, block at line {line}"
            if source.lstrip().startswith(NOT_RUN):
                ast.parse(source, where)  # not run, but it must still be valid Python
            else:
                to_run.append((where, source))
        folder = work / name.replace("/", "_")
        folder.mkdir()
        pages.append((name, str(folder), to_run))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    results = work / "results.json"
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(results)], input=json.dumps(pages),
                          text=True, capture_output=True, cwd=work, env=env, timeout=900)
    assert proc.returncode == 0 and results.exists(), f"the runner failed:\n{proc.stderr[-4000:]}"
    return json.loads(results.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(page, page_runs):
    name = str(page.relative_to(ROOT))
    assert page_runs[name] is None, f"{name}: an example failed:\n{page_runs[name][-4000:]}"


# ---------------------------------------------------------------------------- shell commands
#
# Every command of the pages' ```bash blocks is checked too, from the repository root. A command
# that another test already runs (a script's main() with the same arguments) names that test. The
# others run here and must exit with status 0: the whole suite in its --help form; the make
# targets with this interpreter as their environment, `make -n` showing that each runs the command
# the pages say it runs (`make lint` runs; `make docs` builds the site in CI right after the suite,
# .ci/run; `make floors` needs the network, so bash only parses its script); an install as pip's
# dry run, which builds the project's metadata and checks that it has the extra asked for.

SHELL_FENCE = re.compile(r"^```bash[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
PY = sys.executable
PIP_DRY_RUN = (PY, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index",
               "--no-build-isolation", "--quiet", "--report", "-")
MAKE = ("make", "--no-print-directory", "VENV={venv}", f"PY={PY}")
CHECKS = {
    # command shown: argv to run, or the test that already runs it
    "make reproduce": (*MAKE, "-n", "reproduce"),
    "make test": (*MAKE, "-n", "test"),
    "make lint": (*MAKE, "lint"),
    "make docs": (*MAKE, "-n", "docs"),
    "make floors": ("bash", "-c", "make -n floors | grep -q .ci/floors && bash -n .ci/floors"),
    "pip install -e .": (*PIP_DRY_RUN, "-e", "."),
    "pip install -e '.[experiments]'": (*PIP_DRY_RUN, "-e", ".[experiments]"),
    "python -m jaxdnn.gradcheck --layers 5,4,3,1 --activations relu,tanh,sigmoid":
        "tests/test_gradcheck.py::test_command_line_table_batchnorm_and_bad_arguments",
    "python -m jaxdnn.gradcheck --layers 3,4,3 --output softmax --m 5 --l2 0.7 --keep-prob 0.8 "
    "--directions 2 --dtype float32 --checks params,inputs,hessian --json":
        "tests/test_gradcheck.py::test_command_line_runs_every_check_with_every_option",
    "python -m pytest -n auto": (PY, "-m", "pytest", "-n", "auto", "--help"),
    "python -m experiments.reproduce": "tests/test_experiments.py::test_every_script_has_help",
    "python -m experiments.reproduce --quick":
        "tests/test_experiments.py::test_reproduce_quick_writes_a_complete_report",
    "python -m experiments.reproduce --data-dir PATH":
        "tests/test_experiments.py::test_reproduce_reports_what_it_skipped_without_data",
}
# what `make -n TARGET` must print: the command the pages say the target runs, in the environment
MAKE_RUNS = {"make reproduce": "-m experiments.reproduce", "make test": "-m pytest -n auto",
             "make docs": "-m mkdocs build --strict"}


def shell_commands(page: pathlib.Path) -> list[str]:
    """The commands of the ```` ```bash ```` blocks of ``page``: continuation lines joined,
    comments and blank lines dropped, the words as ``shlex`` reads and writes them."""
    commands = []
    for block in SHELL_FENCE.findall(page.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            if words := shlex.split(line, comments=True):
                commands.append(shlex.join(words))
    return commands


def test_the_command_finder_joins_continuations_and_drops_comments(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\nmake x   # note\n\npython -m a --b \\\n    --c 'd e'\n```\n"
                    "```python\nprint()\n```\n")
    assert shell_commands(page) == ["make x", "python -m a --b --c 'd e'"]


SHOWN = sorted({c for page in [ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")]
                for c in shell_commands(page)})


def test_every_command_shown_is_checked_and_every_check_is_shown():
    assert set(SHOWN) == set(CHECKS), (
        f"shown but not checked: {sorted(set(SHOWN) - set(CHECKS))}; "
        f"checked but no longer shown: {sorted(set(CHECKS) - set(SHOWN))}")


def runs_arguments(test: str, args: list[str]) -> bool:
    """Whether the test ``file::name`` holds a list literal that starts with ``args`` (the words
    after ``python -m MODULE``; a ``PATH`` there stands for any expression)."""
    file, name = test.split("::")
    (function,) = [f for f in ast.parse((ROOT / file).read_text()).body
                   if isinstance(f, ast.FunctionDef) and f.name == name]
    for node in ast.walk(function):
        if isinstance(node, ast.List) and len(node.elts) >= len(args):
            words = [e.value if isinstance(e, ast.Constant) else "PATH" for e in node.elts]
            if words[:len(args)] == args:
                return True
    return False


ELSEWHERE = [c for c in SHOWN if isinstance(CHECKS.get(c), str)]
HERE = [c for c in SHOWN if c not in ELSEWHERE]


@pytest.mark.parametrize("command", ELSEWHERE)
def test_shown_command_is_run_by_another_test(command):
    assert runs_arguments(CHECKS[command], shlex.split(command)[3:]), (
        f"{CHECKS[command]} does not run {command}")


@pytest.mark.slow
@pytest.mark.parametrize("command", HERE)
def test_shown_command_exits_0(command, tmp_path):
    check = CHECKS[command]
    if command == "make lint":
        pytest.importorskip("ruff", reason="make lint needs ruff (the lint extra)")
    if "--dry-run" in check:
        pytest.importorskip("setuptools", minversion="77", reason="the build backend (test extra)")
    for extra in ("experiments", "test", "lint", "docs"):  # this interpreter is the environment
        (tmp_path / f".installed-{extra}").touch()
    argv = [word.format(venv=tmp_path) for word in check]
    # not the caller's JAX settings, nor its make's: `make test ARGS=...` puts ARGS in the
    # environment and in MAKEFLAGS, and every make below it would take them
    make_vars = ("ARGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") and k not in make_vars}
    env["JAX_PLATFORMS"] = "cpu"
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command} ({shlex.join(argv)}):\n{result.stderr[-4000:]}"
    if command in MAKE_RUNS:
        assert result.stdout.strip() == f"{PY} {MAKE_RUNS[command]}", result.stdout
    if "--help" in argv:
        assert result.stdout.startswith("usage:"), result.stdout[:2000]
    if "--dry-run" in argv:  # the project builds, and has each extra that the command asks for
        (wanted,) = json.loads(result.stdout)["install"]
        assert set(wanted.get("requested_extras", [])) <= set(wanted["metadata"]["provides_extra"])


# ---------------------------------------------------------------------------- API reference
#
# docs/api/*.md render objects with mkdocstrings, `::: path`, optionally with a `members:` list.
# Like mkdocstrings, a path names a module where one exists: `::: jaxdnn.forward` renders the
# module jaxdnn/forward.py, every public function in it, not the function jaxdnn.forward.

DIRECTIVE = re.compile(r"^::: (\S+)\n((?:[ \t]+\S.*\n)*)", re.MULTILINE)


def api_directives() -> list[tuple[str, str, list[str]]]:
    """``(page, path, members)`` of each ``::: path`` of the API reference."""
    return [(page.name, path, re.findall(r"^\s+- (\w+)$", options, re.MULTILINE))
            for page in sorted((ROOT / "docs" / "api").glob("*.md"))
            for path, options in DIRECTIVE.findall(page.read_text())]


def resolve(path: str):
    """The object a ``:::`` path renders: the module of that name if there is one."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        parent, _, name = path.rpartition(".")
        return getattr(resolve(parent), name)


def test_the_api_reference_documents_each_public_name_once_and_nothing_private():
    import jaxdnn

    documented = []  # (path, object)
    for page, path, members in api_directives():
        target = resolve(path)
        if inspect.ismodule(target):
            assert members, (f"{page}: `::: {path}` renders the module {path} with every name in "
                             "it; name the object, or list the members")
            documented += [(f"{path}.{name}", getattr(target, name)) for name in members]
        else:
            documented.append((path, target))
    private = [p for p, _ in documented if any(part.startswith("_") for part in p.split("."))]
    assert not private, f"the API reference documents private names: {private}"
    for name in jaxdnn.__all__:
        obj = getattr(jaxdnn, name)
        if not inspect.ismodule(obj):  # a module's names are listed where it is documented
            where = [p for p, o in documented if o is obj]
            assert len(where) == 1, f"jaxdnn.{name} is documented {len(where)} times: {where}"
    twice = [(p, q) for i, (p, o) in enumerate(documented) for q, r in documented[:i]
             if r is o and p.rpartition(".")[2] == q.rpartition(".")[2]]  # (aliases may share)
    assert not twice, f"documented twice: {twice}"
