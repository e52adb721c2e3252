"""strongroom.core must never import Qt: it is imported here with PySide6 made unimportable."""

import subprocess
import sys

BLOCK_QT_AND_IMPORT_CORE = r"""
import importlib, pkgutil, sys

class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "shiboken6"):
            raise ImportError(f"Qt is blocked for this check: {name}")
        return None

sys.meta_path.insert(0, BlockQt())
import strongroom.core
names = [m.name for m in pkgutil.walk_packages(strongroom.core.__path__, "strongroom.core.")]
for name in names:
    importlib.import_module(name)
assert not any(m.split(".")[0] in ("PySide6", "shiboken6") for m in sys.modules)
print(len(names))
"""


def test_core_imports_without_qt():
    result = subprocess.run([sys.executable, "-c", BLOCK_QT_AND_IMPORT_CORE],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 10  # every core module was really imported


def test_the_check_catches_a_qt_import(tmp_path):
    """The blocker itself works: a module importing PySide6 fails under it."""
    probe = tmp_path / "probe_qt.py"
    probe.write_text("import PySide6.QtCore\n")
    script = BLOCK_QT_AND_IMPORT_CORE.split("import strongroom.core")[0] + "import probe_qt\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}, timeout=60)
    assert result.returncode != 0
    assert "Qt is blocked" in result.stderr
