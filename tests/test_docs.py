"""Every ``python`` code block in README.md and docs/*.md runs, as a reader would run it.

The blocks of one page run in order in one fresh Python process (so a block may use the names that
earlier blocks of its page defined), with JAX's default configuration: float32, no
``jax_enable_x64``, whatever ``tests/conftest.py`` sets for the other tests (only its XLA_FLAGS, the
suite's compile settings, carry over: they change how XLA compiles, not what the examples
compute). A block that cannot run here (one that needs several hosts, say) starts with the line
``# not run: <why>``; the test checks that such a block still parses.
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
NOT_RUN = "# not run:"

# Runs each block with its page and line in the traceback, so a failure names where it is.
RUNNER = """
import sys, json
blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for where, source in blocks:
    exec(compile(source, where, "exec"), namespace)
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


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(page, tmp_path):
    blocks = python_blocks(page)
    name = page.relative_to(ROOT)
    to_run = []
    for line, source in blocks:
        where = f"{name}, block at line {line}"
        if source.lstrip().startswith(NOT_RUN):
            ast.parse(source, where)  # not run, but it must still be valid Python
        else:
            to_run.append((where, source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(to_run), text=True,
                            capture_output=True, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, f"{name}: an example failed:\n{result.stderr[-4000:]}"
