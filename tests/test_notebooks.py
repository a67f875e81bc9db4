"""Every notebook in notebooks/ runs top to bottom at its smallest size, and is committed clean.

- each notebook is executed by a fresh python3 kernel (nbclient) with ``LIT_GANS_NOTEBOOK_SIZE=small``, one torch
  thread, and this checkout first on ``PYTHONPATH``, so the kernel imports the lit_gans under test;
- no committed notebook carries outputs or execution counts;
- every notebook is what ``notebooks/build.py`` makes of its source in ``notebooks/src/`` (they cannot drift).

Run one by hand, with its time: ``python tests/test_notebooks.py notebooks/01_quickstart.ipynb [small|full]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def kernel_env(size: str) -> dict[str, str]:
    """The kernel's environment: the notebook size, one thread per math library, this checkout importable first."""
    env = dict(os.environ)
    env.update(LIT_GANS_NOTEBOOK_SIZE=size, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, so figures become outputs
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def execute_notebook(path: Path, size: str = "small", timeout: int = 600) -> nbformat.NotebookNode:
    """Runs a notebook in a fresh kernel (the current interpreter) in its own folder; raises on the first error."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # The running interpreter as the kernel, so the test needs no registered kernelspec and uses this environment.
    km = KernelManager(kernel_cmd=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env(size))
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_at_small_size(path):
    nb = execute_notebook(path, "small", timeout=300)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    # the run made pictures: at least one figure displayed
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 1


def test_notebooks_exist_one_per_topic():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) == 7, names
    assert [n[:3] for n in names] == [f"{i:02d}_" for i in range(1, 8)], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; rebuild it with python notebooks/build.py"


def test_notebooks_match_their_sources():
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import build
    finally:
        sys.path.pop(0)
    sources = sorted((ROOT / "notebooks" / "src").glob("*.py"))
    assert [s.stem for s in sources] == [p.stem for p in NOTEBOOKS]
    for source, path in zip(sources, NOTEBOOKS):
        assert build.render(build.build(source)) == path.read_text(encoding="utf-8"), (
            f"{path.name} differs from {source.name}: run python notebooks/build.py"
        )


def test_build_parses_percent_cells():
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import build
    finally:
        sys.path.pop(0)
    text = "# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n\n# %%\n\n# %%\nprint(x)\n"
    assert build.parse_cells(text) == [("markdown", "# Title\ntext"), ("code", "x = 1"), ("code", "print(x)")]
    with pytest.raises(ValueError, match="before the first"):
        build.parse_cells("x = 1\n# %%\n")


if __name__ == "__main__":
    notebook, size = Path(sys.argv[1]).resolve(), sys.argv[2] if len(sys.argv) > 2 else "small"
    start = time.perf_counter()
    out = execute_notebook(notebook, size, timeout=3600)
    print(f"{notebook.name} at size {size}: {time.perf_counter() - start:.1f} s")
    if len(sys.argv) > 3:
        nbformat.write(out, sys.argv[3])
