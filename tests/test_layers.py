"""The code's layers hold: imports only go down (cli → commands → ui → core, and inside core
from the areas to the small shared pieces), core never imports Qt, and no module imports
itself through others."""

import subprocess
import sys
from pathlib import Path

import grimp

from tests.helpers import REPO


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def import_cycles(graph: grimp.ImportGraph) -> list[str]:
    """Every module that imports something which (directly or not) imports it back."""
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                chain = graph.find_shortest_chain(importer=imported, imported=module)
                cycles.append(" → ".join((module, *chain)))
    return cycles


def test_there_is_no_import_cycle():
    assert import_cycles(grimp.build_graph("strongroom", cache_dir=None)) == []


def test_a_cycle_would_be_found():
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.d")
    assert import_cycles(graph) == []
    graph.add_import(importer="a.d", imported="a.b")
    assert import_cycles(graph)[0] == "a.b → a.c → a.d → a.b"
