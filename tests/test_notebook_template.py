"""The lesson template: the first code cell finds or installs the package, the title cell navigates,
and every chapter notebook carries the generated parts as the template writes them today."""

import importlib.util
import re
from html import unescape
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import cv_textbook.notebook
from cv_textbook import notebook as template
from cv_textbook import notebook_runner
from cv_textbook.notebook_runner import notebook_problems, refresh_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = notebook_runner.chapter_notebooks(ROOT / "notebooks")
# Read here, independently of the package: the one place the address is written.
REPOSITORY = re.search(r'^Repository = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)[1]


# ---------------------------------------------------------------------------
# The bootstrap cell, run offline with exec
# ---------------------------------------------------------------------------


@pytest.fixture
def bootstrap_world(monkeypatch, tmp_path):
    """Run the bootstrap under exec with pip, find_spec and setup() recorded instead of done."""
    calls = {"pip": [], "setup": []}
    monkeypatch.setattr(sys, "path", list(sys.path))  # the bootstrap may insert a checkout
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls["pip"].append(command))
    monkeypatch.setattr(cv_textbook.notebook, "setup",
                        lambda chapter: calls["setup"].append(chapter) or "env")

    def run(chapter, cwd, installed):
        real_find_spec = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: (
            real_find_spec(name, *args) if installed or name != "cv_textbook" else None))
        monkeypatch.chdir(cwd)
        namespace = {}
        exec(template.bootstrap_source(chapter), namespace)
        return namespace

    return run, calls


def test_bootstrap_pip_installs_the_package_from_the_pyproject_url_where_no_checkout_is_around(
        bootstrap_world, tmp_path):
    run, calls = bootstrap_world
    path_before = list(sys.path)
    namespace = run(2, cwd=tmp_path, installed=False)  # e.g. Colab's /content
    assert calls["pip"] == [[sys.executable, "-m", "pip", "install", "--quiet",
                             f"cv-textbook[tensorflow] @ git+{REPOSITORY}"]]
    assert REPOSITORY == "https://github.com/cv-textbook/cv-textbook"
    assert sys.path == path_before
    assert calls["setup"] == [2] and namespace["env"] == "env"


def test_bootstrap_puts_a_checkout_that_is_not_installed_on_sys_path(bootstrap_world, tmp_path):
    run, calls = bootstrap_world
    checkout = tmp_path / "cv-textbook"
    (checkout / "cv_textbook").mkdir(parents=True)
    (checkout / "cv_textbook" / "__init__.py").write_text("")
    (checkout / "notebooks").mkdir()
    run(6, cwd=checkout / "notebooks", installed=False)  # Jupyter starts a notebook in its folder
    assert calls["pip"] == []
    assert sys.path[0] == str(checkout)
    assert calls["setup"] == [6]


def test_bootstrap_uses_an_installed_package_as_it_is(bootstrap_world, tmp_path):
    run, calls = bootstrap_world
    path_before = list(sys.path)
    run(10, cwd=tmp_path, installed=True)
    assert calls["pip"] == [] and sys.path == path_before
    assert calls["setup"] == [10]


def test_bootstrap_is_plain_python_without_ipython_magics():
    source = template.bootstrap_source(0)
    assert not re.search(r"^\s*[%!]", source, re.MULTILINE)
    compile(source, "bootstrap", "exec")


# ---------------------------------------------------------------------------
# setup()
# ---------------------------------------------------------------------------


def test_setup_prints_the_chapter_versions_device_data_and_budget_mode(monkeypatch, capsys):
    import keras

    from cv_textbook import device

    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    env = template.setup(chapter=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Chapter 2 — LeNet-5"  # the registry's chapter title
    assert f"Keras {keras.__version__}" in lines[1] and "Python 3." in lines[1]
    assert device.training_setup().description in lines[2]
    assert lines[3] == "Fashion-MNIST: " + template.fashion_mnist_source()
    assert lines[4].startswith("Budget: smoke") and "CV_TEXTBOOK_FULL=1" in lines[5]
    assert len(lines) <= 6  # a few lines, no plumbing
    assert (env.chapter, env.mode, env.in_colab) == (2, "smoke", False)
    assert env.training.precision == device.training_setup().precision
    assert env.budget(epochs=15).epochs == 1  # smoke mode: every budget shrinks to one epoch


def test_setup_names_the_valid_chapters_when_given_another():
    with pytest.raises(ValueError, match=r"chapter must be one of \(0, 1, .*12\), got 13"):
        template.setup(chapter=13)


# ---------------------------------------------------------------------------
# The title cell's navigation
# ---------------------------------------------------------------------------

WRITTEN = {0: "00_setup_and_data.ipynb", 1: "01_convolution_basics.ipynb", 2: "02_lenet5.ipynb",
           6: "06_resnet.ipynb", 10: "10_unet_xception_segmentation.ipynb"}


def test_colab_badge_opens_the_notebook_from_the_repository_main_branch():
    navigation = template.navigation_markdown(2, WRITTEN, [])
    badge = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             "(https://colab.research.google.com/github/cv-textbook/cv-textbook/blob/main/"
             "notebooks/02_lenet5.ipynb)")
    assert badge in navigation


def test_previous_and_next_link_written_chapters_and_name_coming_ones_without_a_link():
    navigation = template.navigation_markdown(2, WRITTEN, [])
    assert "Previous: [Chapter 1 — Convolution basics](01_convolution_basics.ipynb)" in navigation
    assert "Next: Chapter 3 — AlexNet and ZFNet (coming)" in navigation
    assert "03_" not in navigation  # no link to a notebook that does not exist
    assert "[Chapter 6 — ResNet](06_resnet.ipynb)" in navigation  # the next one that does
    first = template.navigation_markdown(0, WRITTEN, [])
    assert "Previous" not in first and "Next: [Chapter 1 — Convolution basics]" in first
    last_written = template.navigation_markdown(10, WRITTEN, [])
    assert "Next: Chapter 11 — Object detection (coming)" in last_written
    assert ("Previous: Chapter 9 — Xception (coming); the previous one written: [Chapter 6 — ResNet]"
            in last_written)


@pytest.mark.parametrize("heading, anchor", [
    # JupyterLab: the heading's text with its spaces as hyphens, case and punctuation kept
    ("1. Building LeNet-5 step by step", "1.-Building-LeNet-5-step-by-step"),
    ("4. How good is it, and where does it fail?", "4.-How-good-is-it,-and-where-does-it-fail?"),
    ("6. The models of the book, and the `make` commands",
     "6.-The-models-of-the-book,-and-the-make-commands"),
    ("4. Gradient flow: why $1 + F'(x)$ helps", "4.-Gradient-flow:-why-$1-+-F'(x)$-helps"),
    # nbconvert percent-encodes what a URL fragment cannot hold: × is U+00D7, UTF-8 C3 97
    ("5. Receptive field: why stacks of 3×3 convolutions",
     "5.-Receptive-field:-why-stacks-of-3%C3%973-convolutions"),
])
def test_contents_anchor_is_the_id_jupyterlab_and_nbconvert_give_the_heading(heading, anchor):
    assert template.heading_anchor(heading) == anchor


def test_contents_anchors_match_the_ids_of_nbconverts_html():
    from nbconvert import HTMLExporter

    headings = ["1. A plain heading", "2. With `code` and **bold**", "3. A 3×3 kernel, why?",
                "4. Gradient flow: why $1 + F'(x)$ helps"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"## {h}") for h in headings])
    html, _ = HTMLExporter().from_notebook_node(notebook)
    ids = [unescape(found) for found in re.findall(r'<h2 id="([^"]+)"', html)]
    assert ids == [template.heading_anchor(h) for h in headings]


def test_contents_lists_the_notebooks_own_section_headings_not_code_or_subsections():
    sources = ["# Chapter 2 — X\n", "## 1. First\ntext\n### 1.1 Sub\n",
               "```\n## not a heading\n```\n## 2. Second"]
    assert template.section_headings(sources) == ["1. First", "2. Second"]


def test_refresh_rewrites_only_the_navigation_block_and_keeps_an_old_first_cell(tmp_path):
    path = tmp_path / "03_alexnet.ipynb"
    title = "# Chapter 3 — AlexNet and ZFNet\n\nAn introduction that stays."
    old_code = "print('the chapter starts here')"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(title),
        nbformat.v4.new_code_cell(old_code),
        nbformat.v4.new_markdown_cell("## 1. ReLU and dropout"),
    ]), path)
    assert refresh_notebook(path) is True
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].source.startswith("# Chapter 3 — AlexNet and ZFNet\n\n<!-- nav -->\n")
    assert cells[0].source.endswith("<!-- /nav -->\n\nAn introduction that stays.")
    assert "- [1. ReLU and dropout](#1.-ReLU-and-dropout)" in cells[0].source
    assert cells[1].source == template.bootstrap_source(3)
    assert cells[2].source == old_code  # not overwritten: the bootstrap is inserted before it
    assert notebook_problems(path) == []
    assert refresh_notebook(path) is False  # idempotent


# ---------------------------------------------------------------------------
# Every chapter notebook, as it is committed
# ---------------------------------------------------------------------------


def test_there_are_chapter_notebooks():
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_navigation_bootstrap_and_tags_are_up_to_date(path):
    problems = notebook_problems(path)
    assert not problems, ("\n".join(problems)
                          + "\nrun: python -m cv_textbook.notebook_runner --refresh notebooks/*.ipynb")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_solutions_are_collapsed_source_and_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    solutions = [cell for cell in notebook.cells
                 if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", [])]
    assert solutions, f"{path.name} has no solution cell"
    for cell in solutions:
        assert cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_starts_with_title_bootstrap_then_imports(path):
    cells = nbformat.read(path, as_version=4).cells
    chapter = int(path.name[:2])
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# Chapter {chapter} — ")
    assert cells[1].source.endswith(f"env = setup(chapter={chapter})")
    assert cells[2].cell_type == "code" and cells[2].source.startswith("# Imports")


def test_exercise_problems_catch_an_untagged_exercise_and_an_untagged_solution():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# TODO: replace None\nanswer = None\nch02.check(answer);"),
        nbformat.v4.new_markdown_cell("**Solution** to Exercise 1. The next cell is collapsed."),
        nbformat.v4.new_code_cell("answer = 42\nch02.check(answer);"),
    ])
    problems = notebook_runner.exercise_problems(notebook)
    assert len(problems) == 3, problems
    with pytest.raises(ValueError, match="not tagged consistently"):
        notebook_runner.make_handout(notebook)
