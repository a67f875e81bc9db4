"""Every notebook in notebooks/ runs top to bottom at its smallest size, and is committed clean.

- each notebook is executed top to bottom (nbclient) by a python3 kernel on this interpreter, with
  ``LIT_GANS_NOTEBOOK_SIZE=small``, one torch thread, and this checkout first on ``PYTHONPATH``, so the kernel imports
  the lit_gans under test; the notebooks share one kernel, its namespace cleared before each (``%reset -f``);
- no committed notebook carries outputs or execution counts;
- every notebook is what ``notebooks/build.py`` makes of its source in ``notebooks/src/`` (they cannot drift).

Run one by hand in a fresh kernel, with its time:
``python tests/test_notebooks.py notebooks/01_quickstart.ipynb [small|full] [executed.ipynb]``.
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


def start_kernel(size: str):
    """A python3 kernel on the running interpreter (whatever kernelspecs are installed), in notebooks/."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class ThisInterpreter(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            return KernelSpec(argv=argv, display_name="Python 3", language="python")

    km = KernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())
    km.start_kernel(env=kernel_env(size), cwd=str(ROOT / "notebooks"))
    return km


def execute_notebook(path: Path, km, timeout: int = 600) -> nbformat.NotebookNode:
    """Runs a notebook top to bottom in the kernel ``km``, after clearing the kernel's namespace (``%reset -f``), so
    a notebook sees no variable or imported name of another; raises CellExecutionError on the first error."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f", id="reset"))
    NotebookClient(nb, km=km, timeout=timeout).execute()
    del nb.cells[0]
    return nb


@pytest.fixture(scope="module")
def kernel():
    """One kernel for all the notebooks: importing torch and Lightning takes most of a small notebook's time, and a
    reused kernel pays it once (each notebook still starts from an empty namespace)."""
    km = start_kernel("small")
    yield km
    km.shutdown_kernel(now=True)


def test_notebook_kernel_imports_this_checkout_with_one_thread(kernel):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import lit_gans, torch\nprint(lit_gans.__file__, torch.get_num_threads())")]
    from nbclient import NotebookClient

    NotebookClient(nb, km=kernel, timeout=120).execute()
    path, threads = nb.cells[0].outputs[0]["text"].split()
    assert Path(path).resolve().is_relative_to(ROOT), path
    assert threads == "1"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_at_small_size(path, kernel):
    nb = execute_notebook(path, kernel, timeout=300)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # the run drew pictures: at least one figure is among the outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} displayed no figure"


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
    km = start_kernel(size)  # a fresh kernel: the time includes the imports, as for a reader
    try:
        out = execute_notebook(notebook, km, timeout=3600)
    finally:
        km.shutdown_kernel(now=True)
    print(f"{notebook.name} at size {size}: {time.perf_counter() - start:.1f} s")
    if len(sys.argv) > 3:
        nbformat.write(out, sys.argv[3])
