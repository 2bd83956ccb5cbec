"""Regenerates each notebook's `.ipynb` from its jupytext percent-format `.py`.

Run:   python notebooks/sync.py           (rewrites what is stale)
Check: python notebooks/sync.py --check   (lists what is stale; exit status 1 if any)

The `.py` files (`notebooks/NN_name.py`) are the sources; edit those, then run this
script. The GitHub repository is named in one place, ``[project.urls] Repository``
in pyproject.toml. This script writes it into each `.py` (the "Open in Colab" badge
of the title cell and the setup cell's ``REPOSITORY = "..."`` line), then writes the
`.ipynb` that jupytext reads from that `.py`, with no outputs, no execution counts
and cell ids numbered in order, so the same `.py` always gives the same `.ipynb`.
`tests/notebooks_test.py` checks that nothing is stale.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tomllib

import jupytext

NOTEBOOKS = pathlib.Path(__file__).resolve().parent
PYPROJECT = NOTEBOOKS.parent / "pyproject.toml"
SOURCE_GLOB = "[0-9][0-9]_*.py"

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE = re.compile(
    r"\[!\[Open In Colab\]\(" + re.escape(BADGE_IMAGE) + r"\)\]\([^)\s]*\)"
)
_REPOSITORY_LINE = re.compile(r'^REPOSITORY = "[^"]*"$', re.MULTILINE)
_GITHUB = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


def repository_url(pyproject: pathlib.Path = PYPROJECT) -> str:
    """``https://github.com/<owner>/<repo>`` from pyproject's Repository URL.

    Raises:
      ValueError: the URL is missing or not a GitHub repository URL.
    """
    with open(pyproject, "rb") as handle:
        urls = tomllib.load(handle).get("project", {}).get("urls", {})
    match = _GITHUB.match(urls.get("Repository", ""))
    if match is None:
        raise ValueError(
            f"{pyproject}: [project.urls] Repository must be "
            f"https://github.com/<owner>/<repo>, got {urls.get('Repository')!r}"
        )
    return f"https://github.com/{match[1]}/{match[2]}"


def colab_url(repository: str, name: str) -> str:
    """The Colab address of ``notebooks/<name>.ipynb`` on the main branch.

    >>> colab_url("https://github.com/me/proj", "01_quickstart")
    'https://colab.research.google.com/github/me/proj/blob/main/notebooks/01_quickstart.ipynb'
    """
    path = repository.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{name}.ipynb"


def badge(repository: str, name: str) -> str:
    """The markdown "Open in Colab" badge of notebook ``name``."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(repository, name)})"


def render_source(text: str, *, name: str, repository: str) -> str:
    """The `.py` source with its badge and ``REPOSITORY`` line set to ``repository``.

    Raises:
      ValueError: the source has no badge or no ``REPOSITORY = "..."`` line.
    """
    if _BADGE.search(text) is None:
        raise ValueError(f"{name}.py: no 'Open In Colab' badge in its title cell")
    if _REPOSITORY_LINE.search(text) is None:
        raise ValueError(f'{name}.py: no `REPOSITORY = "..."` line in its setup cell')
    text = _BADGE.sub(lambda _: badge(repository, name), text)
    return _REPOSITORY_LINE.sub(lambda _: f'REPOSITORY = "{repository}"', text)


def render_notebook(source: str) -> str:
    """The `.ipynb` text of a percent-format source: no outputs, numbered cell ids."""
    notebook = jupytext.reads(source, fmt="py:percent")
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return jupytext.writes(notebook, fmt="ipynb") + "\n"


def sources(directory: pathlib.Path = NOTEBOOKS) -> list[pathlib.Path]:
    """The notebook sources, ``NN_name.py``, in order."""
    return sorted(directory.glob(SOURCE_GLOB))


def expected(path: pathlib.Path, repository: str) -> dict[pathlib.Path, str]:
    """``{.py path: its text, .ipynb path: its text}`` as this script writes them."""
    text = path.read_text(encoding="utf-8")
    source = render_source(text, name=path.stem, repository=repository)
    return {path: source, path.with_suffix(".ipynb"): render_notebook(source)}


def _stale_texts(directory: pathlib.Path) -> dict[pathlib.Path, str]:
    repository = repository_url()
    out = {}
    for path in sources(directory):
        for target, text in expected(path, repository).items():
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                out[target] = text
    return out


def stale(directory: pathlib.Path = NOTEBOOKS) -> list[pathlib.Path]:
    """The files whose content differs from what this script would write."""
    return list(_stale_texts(directory))


def sync(directory: pathlib.Path = NOTEBOOKS) -> list[pathlib.Path]:
    """Writes every stale file; returns them."""
    texts = _stale_texts(directory)
    for target, text in texts.items():
        target.write_text(text, encoding="utf-8")
    return list(texts)


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    if argv == ["--check"]:
        paths = stale()
        for path in paths:
            print(f"stale: {path.relative_to(NOTEBOOKS.parent)}")
        if paths:
            print("run: python notebooks/sync.py", file=sys.stderr)
        return 1 if paths else 0
    for path in sync():
        print(f"wrote {path.relative_to(NOTEBOOKS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
