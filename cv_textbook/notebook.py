"""The lesson template: what a chapter notebook's first cells and title cell are made of.

* ``setup(chapter)`` is the one call of a chapter's first code cell: it loads TensorFlow
  quietly, prepares the GPUs, prints the environment in a few lines and returns an
  ``Environment`` with the settings the notebook needs.
* ``bootstrap_source(chapter)`` is that first code cell: it finds the package (installed, or the
  checkout the notebook sits in) or installs it from the repository, then calls ``setup``.
* ``navigation_markdown(...)`` is the title cell's navigation: an "Open in Colab" badge, the
  previous and next chapters and a table of contents of the notebook's ``## `` headings.

The repository's address is written once, in pyproject.toml's ``[project.urls]``; everything
here reads it from there (or from the installed package's metadata). Writing these parts into
the notebook files is ``cv_textbook.notebook_runner``'s job.

This module imports only the standard library and the framework-free parts of the package:
``from cv_textbook.notebook import setup`` must work in a bare kernel, before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import platform
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlparse

from cv_textbook import config
from cv_textbook.checks import check_choice, check_int
from cv_textbook.data import DatasetError, fashion_mnist_source
from cv_textbook.models.registry import CHAPTERS
from cv_textbook.quiet import import_tensorflow_quietly

if TYPE_CHECKING:
    from cv_textbook.device import TrainingSetup

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10: the installed package's metadata holds the same URLs
    tomllib = None

# Keras and cv_textbook.device are imported inside setup(): TensorFlow must load quietly first,
# and the tools that write notebooks never need a framework.

DISTRIBUTION = "cv-textbook"
NOTEBOOKS_DIR = "notebooks"
BRANCH = "main"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
NAV_START, NAV_END = "<!-- nav -->", "<!-- /nav -->"
# The line that makes a code cell the bootstrap (notebook_runner finds the cell by it).
BOOTSTRAP_IMPORT = "from cv_textbook.notebook import setup"
BACKENDS = {"tensorflow": ("TensorFlow", "tensorflow"), "jax": ("JAX", "jax"), "torch": ("PyTorch", "torch")}


# ---------------------------------------------------------------------------
# In the lesson: setup()
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Environment:
    """What a chapter notebook needs to know about where it runs."""

    chapter: int
    title: str
    training: TrainingSetup  # the device and its settings: precision, XLA
    in_colab: bool
    mode: str  # the budget mode: "smoke", "classroom" or "full"

    def budget(self, epochs: int, train_examples=None, test_examples=None, full_epochs=None) -> config.Budget:
        """This mode's budget for a run whose classroom setting is ``epochs`` (see ``config.budget``)."""
        return config.budget(epochs, train_examples, test_examples, full_epochs)


def budget_mode() -> str:
    """The budget mode ``cv_textbook.config``'s environment variables ask for: smoke, full or classroom."""
    if config.is_smoke():
        return "smoke"
    return "full" if config.is_full() else "classroom"


MODE_HELP = {
    "smoke": "a tiny real subset, one epoch: every cell runs, the numbers mean little",
    "classroom": "minutes per training run on a laptop CPU",
    "full": "the papers' budgets where a chapter has them: hours, meant for a GPU",
}


def _backend_text(backend: str) -> str:
    """The backend's name and version, e.g. "TensorFlow 2.21.0" (read from the installed metadata)."""
    name, package = BACKENDS.get(backend, (backend, backend))
    try:
        return f"{name} {importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:  # e.g. installed as tensorflow-cpu
        return name


def _data_source() -> str:
    try:
        return fashion_mnist_source(download=True)  # downloads once through Keras where it is missing
    except DatasetError as error:
        return f"not available ({str(error).splitlines()[0]})"


def describe(environment: Environment, keras_version: str, backend: str) -> str:
    """The lines ``setup`` prints."""
    where = " on Google Colab" if environment.in_colab else ""
    return "\n".join([
        f"Chapter {environment.chapter} — {environment.title}",
        f"Python {platform.python_version()}, Keras {keras_version} on {_backend_text(backend)}{where}",
        f"Device: {environment.training.description}, precision {environment.training.precision}",
        f"Fashion-MNIST: {_data_source()}",
        f"Budget: {environment.mode} ({MODE_HELP[environment.mode]})",
        f"  modes: {config.SMOKE_ENV}=1 -> smoke, else {config.FULL_ENV}=1 -> full, else classroom; "
        "set with %env, then run again",
    ])


def setup(chapter: int) -> Environment:
    """Prepare a chapter notebook and print its environment; returns the ``Environment``.

    Loads TensorFlow without its native start-up lines and lets it take GPU memory as needed.
    ``%matplotlib inline`` stays the notebook's own line (it is IPython syntax).
    """
    check_int("chapter", chapter, 0)
    check_choice("chapter", chapter, CHAPTERS)
    import_tensorflow_quietly()
    import keras

    from cv_textbook import device

    training = device.training_setup()  # before configure_gpus: it lists the GPUs with native logs silenced
    device.configure_gpus()
    environment = Environment(
        chapter=chapter,
        title=CHAPTERS[chapter],
        training=training,
        in_colab=importlib.util.find_spec("google.colab") is not None,
        mode=budget_mode(),
    )
    print(describe(environment, keras.__version__, keras.backend.backend()))
    return environment


# ---------------------------------------------------------------------------
# The template: the repository, the first code cell, the title cell's navigation
# ---------------------------------------------------------------------------


def repository_url() -> str:
    """pyproject.toml's ``[project.urls] Repository`` (the installed metadata's outside a checkout)."""
    pyproject = config.project_root() / "pyproject.toml"
    if tomllib is not None and pyproject.is_file():
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["urls"]["Repository"]
    for entry in importlib.metadata.metadata(DISTRIBUTION).get_all("Project-URL") or ():
        label, _, url = entry.partition(",")
        if label.strip() == "Repository":
            return url.strip()
    raise LookupError(f"{DISTRIBUTION} names no Repository URL: add it to pyproject.toml's [project.urls].")


def github_path(url: str | None = None) -> str:
    """``owner/name`` of a GitHub repository URL (default: this project's)."""
    parsed = urlparse(url or repository_url())
    parts = parsed.path.strip("/").removesuffix(".git").split("/")
    if parsed.netloc != "github.com" or len(parts) != 2:
        raise ValueError(f"expected a repository URL https://github.com/<owner>/<name>, got {url!r}.")
    return "/".join(parts)


def colab_url(filename: str, url: str | None = None) -> str:
    """Where Colab opens ``notebooks/<filename>`` of the repository's main branch."""
    path = f"{github_path(url)}/blob/{BRANCH}/{NOTEBOOKS_DIR}/{filename}"
    return f"https://colab.research.google.com/github/{path}"


def bootstrap_source(chapter: int, url: str | None = None) -> str:
    """The first code cell of chapter ``chapter``: find or install the package, then ``setup``.

    Plain Python (no ``%pip``), so that it runs under ``exec`` as well as in a kernel.
    """
    check_choice("chapter", chapter, CHAPTERS)
    return f'''\
# Set-up, the same in every chapter: find the cv_textbook package (installed, or this notebook's
# checkout), else install it from GitHub (Colab, Kaggle, a JupyterHub); then report the environment.
import importlib.util
import subprocess
import sys
from pathlib import Path

REPOSITORY = "{url or repository_url()}"
if importlib.util.find_spec("cv_textbook") is None:
    checkout = next((folder for folder in (Path.cwd(), Path.cwd().parent)
                     if (folder / "cv_textbook" / "__init__.py").is_file()), None)
    if checkout is not None:  # a clone that is not pip-installed
        sys.path.insert(0, str(checkout))
    else:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        f"cv-textbook[tensorflow] @ git+{{REPOSITORY}}"], check=True)
        importlib.invalidate_caches()  # let this running Python see the new package

{BOOTSTRAP_IMPORT}

env = setup(chapter={chapter})'''


def chapter_of(filename: str) -> int:
    """The chapter number a notebook's name starts with: ``02_lenet5.ipynb`` -> 2."""
    match = re.match(r"(\d\d)_", Path(filename).name)
    if match is None or int(match[1]) not in CHAPTERS:
        raise ValueError(f"a chapter notebook is named NN_name.ipynb with NN in 00..{max(CHAPTERS):02d}, "
                         f"got {filename!r}.")
    return int(match[1])


def heading_text(markdown: str) -> str:
    """What a rendered heading reads (its text content): inline code, emphasis and link marks dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # [text](url) -> text
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"(\*\*|__|\*)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    return text.strip()


def heading_anchor(markdown: str) -> str:
    """The id JupyterLab and nbconvert give a heading: its text with spaces as hyphens.

    Characters that a URL fragment cannot hold are percent-encoded as nbconvert does
    (``3×3`` -> ``3%C3%973``); a browser decodes them when it follows the link.
    """
    return quote(heading_text(markdown).replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def section_headings(markdown_sources) -> list[str]:
    """The ``## `` headings of these markdown cells, in order (not those inside code fences)."""
    headings = []
    for source in markdown_sources:
        fenced = False
        for line in source.splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and line.startswith("## "):
                headings.append(line[3:].strip())
    return headings


def _chapter_link(number: int, filenames: dict[int, str]) -> str:
    name = f"Chapter {number} — {CHAPTERS[number]}"
    return f"[{name}]({filenames[number]})" if number in filenames else f"{name} (coming)"


def navigation_markdown(chapter: int, filenames: dict[int, str], headings: list[str],
                        url: str | None = None) -> str:
    """The title cell's navigation block, markers included.

    ``filenames`` maps the written chapters to their notebook's file name; a neighbour not written
    yet is named as coming, with a link to the nearest written chapter on that side.
    """
    lines = [NAV_START, f"[![Open In Colab]({COLAB_BADGE})]({colab_url(filenames[chapter], url)})", ""]
    neighbours = []
    for label, step in (("Previous", -1), ("Next", +1)):
        number = chapter + step
        if number not in CHAPTERS:
            continue
        text = f"{label}: {_chapter_link(number, filenames)}"
        written = sorted((n for n in filenames if (n - chapter) * step > 0), key=lambda n: abs(n - chapter))
        if number not in filenames and written:
            side = "previous" if step < 0 else "next"
            text += f"; the {side} one written: {_chapter_link(written[0], filenames)}"
        neighbours.append(text)
    lines += [" · ".join(neighbours), ""]
    if headings:
        lines += ["**Contents**", ""]
        lines += [f"- [{heading}](#{heading_anchor(heading)})" for heading in headings]
    lines.append(NAV_END)
    return "\n".join(lines)


def with_navigation(title_source: str, navigation: str) -> str:
    """The title cell with ``navigation`` in place of its old block (or right under the title line)."""
    start, end = title_source.find(NAV_START), title_source.find(NAV_END)
    if start >= 0 and end > start:
        return title_source[:start] + navigation + title_source[end + len(NAV_END):]
    title, _, rest = title_source.partition("\n")
    rest = rest.lstrip("\n")
    return f"{title}\n\n{navigation}" + (f"\n\n{rest}" if rest else "")
