"""The `strongroom` command itself: its version and its self-test."""

from pathlib import Path

import pytest

from strongroom import __version__
from tests.helpers.cli import strongroom


def test_version(home):
    result = strongroom("--version", home=home)
    assert result.returncode == 0 and result.stdout.strip() == f"strongroom {__version__}"



@pytest.mark.model
def test_self_test_passes_and_answers(home, demo_model):
    result = strongroom("--self-test", "--model", str(demo_model), home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines[:-1]] == [
        "imports", "offline", "llama.cpp", "Qt", "display", "encryption", "documents", "model",
        "log"]
    assert all(line.startswith("OK") for line in lines[:-1]) and lines[-1] == "Self-test passed."



def test_self_test_reports_a_broken_audit_log(home):
    home.audit_log.parent.mkdir(parents=True)
    home.audit_log.write_text('{"prev_hash": "genesis", "entry_hash": "0"}\n')
    result = strongroom("--self-test", home=home)
    assert result.returncode == 1
    assert "FAILED  audit log: the audit log" in result.stdout and "is broken at line 1" in result.stdout


def test_every_command_and_argument_explains_itself():
    """Help for every argument, and an example for every command."""
    import argparse

    from strongroom.cli import _build_parser

    missing, without_example = [], []

    def walk(parser, path):
        subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for action in parser._actions:
            if action.help is None and not isinstance(action, argparse._HelpAction) \
                    and action not in subcommands:
                missing.append(f"{path} {action.dest}")
        for group in subcommands:
            for name, sub in group.choices.items():
                walk(sub, f"{path} {name}")
        if not subcommands and "example: " not in (parser.epilog or ""):
            without_example.append(path)

    walk(_build_parser(), "strongroom")
    assert missing == [] and without_example == []


def test_the_install_hint_speaks_the_systems_package_manager(tmp_path):
    from strongroom.self_test import is_fedora_like

    release = tmp_path / "os-release"
    release.write_text('NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n')
    assert is_fedora_like(release)
    release.write_text('ID="rocky"\nID_LIKE="rhel centos fedora"\n')
    assert is_fedora_like(release)
    release.write_text("ID=debian\nVERSION_ID=12\n")
    assert not is_fedora_like(release)
    assert not is_fedora_like(tmp_path / "missing")


def test_the_self_test_checks_the_display_the_window_will_use(home):
    """With an X11 display, the system libraries of Qt's xcb plugin are checked (the Qt
    check draws offscreen, so it cannot see them missing)."""
    from PySide6.QtCore import QLibraryInfo

    from strongroom.self_test import debian_package, fedora_package, missing_libraries

    assert debian_package("libxcb-icccm.so.4") == "libxcb-icccm4"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert fedora_package("libxcb-icccm.so.4") == "xcb-util-wm"
    assert fedora_package("libxcb-shape.so.0") == "libxcb"
    assert fedora_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11"
    plugin = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    missing = missing_libraries(plugin)
    result = strongroom("--self-test", home=home, env={"DISPLAY": ":99"})
    line = next(line for line in result.stdout.splitlines() if " display: " in line)
    if missing:
        assert line.startswith("FAILED") and result.returncode != 0
        assert " ".join(debian_package(name) for name in missing) in line
    else:
        assert line.startswith("OK")
    without = strongroom("--self-test", home=home, env={"DISPLAY": ""})
    assert "OK      display: no X11 display" in without.stdout
