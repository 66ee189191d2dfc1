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
