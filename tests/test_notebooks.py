"""Every chapter notebook runs top to bottom in smoke mode (one test per notebook)."""

from pathlib import Path

import pytest

from cv_textbook.notebook_runner import execute_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_chapter_notebooks():
    assert NOTEBOOKS, "notebooks/ has no .ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path, tmp_path):
    # A NotebookCellError names the failing cell and shows its source and traceback.
    executed = execute_notebook(path, smoke=True, save_to=tmp_path / path.name)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert "widgets" not in executed.metadata


def test_saved_notebooks_lose_tensorflows_native_log_lines_but_keep_real_stderr():
    import nbformat

    from cv_textbook.notebook_runner import drop_native_log_lines

    native = "E0000 00:00:1795375618.344952    6046 meta_optimizer.cc:967] remapper failed: ...\n"
    warning = "UserWarning: the learning rate is very high\n"
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("fit()", outputs=[
            nbformat.v4.new_output("stream", name="stderr", text=native),
            nbformat.v4.new_output("stream", name="stderr", text=native + warning),
            nbformat.v4.new_output("stream", name="stdout", text=native),  # stdout is the notebook's own
        ]),
    ])
    drop_native_log_lines(notebook)
    outputs = notebook.cells[0].outputs
    assert [(o.name, o.text) for o in outputs] == [("stderr", warning), ("stdout", native)]
