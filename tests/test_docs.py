"""The README is a landing page and docs/ holds the rest: every relative link and picture in them resolves, the
pictures stay small enough to check in, the README stays short and keeps the two commands that CI and newcomers
run, and every section the long README had still lives somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from benchmarks.page_shots import DOCS_IMAGES, DOCS_SHOTS, MAX_BYTES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 200
# [text](target) and ![alt](target); the text may wrap onto the next line
LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)\s]+)\)")
# where each section of the README before docs/ (921 lines, 26 headings) lives now
SECTIONS = {
    "Two commands": "README.md",
    "Pages": "README.md",
    "Layout": "README.md",
    "For teachers": "docs/teaching.md",
    "Classroom links": "docs/teaching.md",
    "Data": "docs/data.md",
    "Where files go": "docs/data.md",
    "Where training runs": "docs/training.md",
    "On a Ray cluster": "docs/ray.md",
    "Hyper-parameter searches": "docs/ray.md",
    "Command line": "docs/command-line.md",
    "How fixed-graph models are fast": "docs/performance.md",
    "Performance": "docs/performance.md",
    "Playground": "docs/performance.md",
    "Deploying the hosted demo (Streamlit Community Cloud)": "docs/hosting.md",
    "Hosting in public: what one visitor can cost": "docs/hosting.md",
    "What the server accepts from a browser": "docs/untrusted-input.md",
    "Accuracy": "docs/accuracy.md",
    "Learned edges": "docs/accuracy.md",
    "The tutorial's experiment": "docs/accuracy.md",
    "Superpixels": "docs/accuracy.md",
    "Rotation": "docs/accuracy.md",
    "How much equivariance, and where": "docs/accuracy.md",
    "Known limitations": "docs/limitations.md",
}


def prose(path: Path) -> str:
    """The page without its code (fenced blocks and inline spans): a `[x](y)` there is an example, not a link."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def headings(path: Path) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", prose(path), flags=re.M)]


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def links(path: Path) -> list[tuple[bool, str]]:
    """(is a picture, target) of every relative link on the page."""
    return [(bool(m.group(1)), m.group(2)) for m in LINK.finditer(prose(path)) if not re.match(r"[a-z]+:", m.group(2))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves_to_a_file_and_heading(page):
    found = links(page)
    assert found or page != README
    for _, target in found:
        file, _, fragment = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        assert linked.is_file(), f"{page.name}: {target} names no file"
        assert linked.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        if fragment:
            assert fragment in {anchor(h) for h in headings(linked)}, f"{page.name}: {target} names no heading"


def test_every_picture_is_a_small_png_of_the_script():
    shown = {(page.parent / target).resolve() for page in PAGES for picture, target in links(page) if picture}
    made = {(DOCS_IMAGES / f"{shot.name}.png").resolve() for shot in DOCS_SHOTS}
    assert (ROOT / "docs/images/playground.png").resolve() in shown
    assert (ROOT / "docs/images/lesson.png").resolve() in shown
    assert shown <= made, f"pictures no script refreshes: {sorted(map(str, shown - made))}"
    assert set(DOCS_IMAGES.glob("*")) <= made, "a picture in docs/images that the script no longer makes"
    for path in made:
        assert path.is_file(), f"{path.name} is missing: python -m benchmarks.page_shots --docs"
        assert path.stat().st_size <= MAX_BYTES, f"{path.name}: {path.stat().st_size:,} bytes"
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width >= 1000 and image.height >= 600


def test_the_readme_is_a_landing_page_with_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    code = "\n".join(re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M))
    commands = re.findall(r"^(bash run\.sh [a-z]+) +#", code, flags=re.M)
    assert commands[:2] == ["bash run.sh app", "bash run.sh test"]
    modes = re.findall(r"^\s*([a-z]+)\)", (ROOT / "run.sh").read_text(), flags=re.M)
    assert {"app", "test"} <= set(modes)  # the script still has the two modes the README names
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^bash run\.sh test -q$", ci, flags=re.M) and "`bash run.sh test -q`" in text


def test_every_doc_is_reached_from_the_readme():
    reached = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(README)}
    assert set(DOCS) <= reached, f"not linked from the README: {sorted(p.name for p in set(DOCS) - reached)}"


@pytest.mark.parametrize("heading, where", SECTIONS.items())
def test_every_old_readme_section_still_lives_somewhere(heading, where):
    assert heading in headings(ROOT / where)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_heading_is_repeated_on_a_page(page):
    """A repeated heading gets a second anchor (``-1``), so a link to it would land on the first."""
    names = [anchor(h) for h in headings(page)]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
