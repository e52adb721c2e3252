"""The documentation holds together: the README stays short, each page in docs/ exists with
a title, every relative link (and image) points at a file that exists, and every command
of the real parser is in docs/commands.md."""

import argparse
import re
from pathlib import Path

import pytest

from strongroom.cli import _build_parser
from tests.helpers import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = ("using.md", "officer.md", "auditor.md", "security.md", "commands.md", "development.md")
README_MOST_LINES = 150

# Commands the parser registers that need not be documented. `cli.main` handles the internal
# entry points of Strongroom's own isolated child processes (`_check-gguf`,
# `_render-templates`, `_read-document`, `_serve-model`) before the parser, so they are not
# among its subcommands; any hidden one added to the parser later would be named here.
UNDOCUMENTED_COMMANDS: frozenset[str] = frozenset()

# [text](target) and ![alt](target); the target ends at the first space (a title may follow).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = ("http:", "https:", "mailto:")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def relative_links(text: str) -> list[str]:
    """The relative link targets in Markdown ``text``, outside code blocks and code spans,
    without their ``#fragment``; external and pure ``#anchor`` links are left out."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"^(?: {4}|\t).*$", "", text, flags=re.MULTILINE)  # indented code
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = []
    for target in LINK.findall(text):
        if target.startswith(EXTERNAL) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


def broken_links(path: Path) -> list[str]:
    return [target for target in relative_links(path.read_text(encoding="utf-8"))
            if not (path.parent / target).exists()]


def command_names(parser: argparse.ArgumentParser, prefix: str = "strongroom") -> list[str]:
    """Every subcommand and sub-subcommand, as 'strongroom store promote'."""
    names = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                names.append(f"{prefix} {name}")
                names += command_names(subparser, f"{prefix} {name}")
    return names


def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MOST_LINES, f"README.md has {lines} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES)
def test_each_page_exists_with_a_title(page):
    path = DOCS / page
    assert path.is_file(), f"docs/{page} is missing"
    assert re.search(r"^# \S", path.read_text(encoding="utf-8"), re.MULTILINE), \
        f"docs/{page} has no level-1 heading"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_resolves(path):
    assert broken_links(path) == []


def test_the_link_check_sees_links_and_skips_the_rest():
    text = ("[a](docs/using.md#chatting) ![b](images/x.png) [c](https://example.org) "
            "[d](#anchor) [e](mailto:someone@example.org) `[f](in/code.md)`\n"
            "    [g](indented/code.md)\n")
    assert relative_links(text) == ["docs/using.md", "images/x.png"]


def test_every_command_is_in_the_command_reference():
    names = command_names(_build_parser())
    assert "strongroom store promote" in names and "strongroom audit verify" in names
    reference = (DOCS / "commands.md").read_text(encoding="utf-8")
    missing = [name for name in names
               if name not in UNDOCUMENTED_COMMANDS and f"`{name}`" not in reference]
    assert missing == [], f"not in docs/commands.md: {missing}"
