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


def _png_outputs(notebook) -> list[str]:
    return [output["data"]["image/png"] for cell in notebook.cells for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_converts_to_html_with_its_figures_and_working_contents_links(path):
    import html
    import re

    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    page, _ = HTMLExporter().from_notebook_node(notebook)
    figures = _png_outputs(notebook)
    assert figures, f"{path.name} has no figure among its committed outputs"
    embedded = set(re.findall(r'src="data:image/png;base64,([^"]+)"', page))
    missing = [index for index, png in enumerate(figures) if "".join(png.split()) not in embedded]
    assert not missing, f"{path.name}: PNG outputs {missing} of {len(figures)} are not in the HTML"
    # Each link of the title cell's table of contents finds its heading in the page.
    ids = {html.unescape(found) for found in re.findall(r'\bid="([^"]+)"', page)}
    links = re.findall(r"^- \[.*\]\(#(.*)\)$", notebook.cells[0].source, re.MULTILINE)
    assert links, f"{path.name}: the title cell has no table of contents"
    assert not [link for link in links if link not in ids], f"{path.name}: contents links without a heading"
