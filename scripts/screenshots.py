"""The screenshots in README.md and docs/, taken from the real app on a real X display.

Runs the way a new user goes: an empty workstation, Import from a drive (the demo drive)
to the wizard's Done page, Manage models with the new version staged, smoke test and
promote, then a question answered by the demo model and asked again (so the answer shows
‹ 2/2 ›), in the Light and the Dark theme. Each screenshot is the window as the X server
shows it, frame included. Run it with `scripts/screenshots.sh` (Xvfb and a window
manager); it writes docs/images/*.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
DEMO_MODEL = REPO / ".cache" / "demo" / "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTION = "Write a Python function that tells whether a number is prime."

from strongroom.core.offline import EgressGuard, apply_offline_environment  # noqa: E402

apply_offline_environment()
EgressGuard.install()

from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402


def wait_for(condition, timeout_ms: int = 300_000) -> None:
    """Run the event loop until ``condition()`` holds."""
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: condition() and loop.quit())
    timer.start(50)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    timer.stop()
    if not condition():
        raise SystemExit(f"timed out waiting for {condition}")


def wait_signal(signal, timeout_ms: int = 300_000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def settle() -> None:
    """Let layout and painting finish (and the window manager draw the frame)."""
    loop = QEventLoop()
    QTimer.singleShot(400, loop.quit)
    loop.exec()


def shoot(widget, name: str) -> None:
    """The widget's window as the screen shows it, frame and all."""
    window = widget.window()
    window.raise_()
    window.activateWindow()
    settle()
    frame = window.frameGeometry()
    image = QGuiApplication.primaryScreen().grabWindow(0, frame.x(), frame.y(), frame.width(),
                                                       frame.height())
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / name
    image.save(str(path))
    print(f"wrote {path.relative_to(REPO)} ({image.width()}×{image.height()})")


def make_drive(folder: Path) -> Path:
    from strongroom.core.transfer.prepare import prepare_local, write_transfer_manifest

    drive = folder / "drive"
    prepare_local(drive, "SmolLM2-135M-Instruct", [DEMO_MODEL])
    write_transfer_manifest(drive)
    return drive


def shoot_documents(window, home: Path) -> None:
    """Documents…: a library read from a folder; an answer with its sources; a passage."""
    sys.path.insert(0, str(REPO))
    from strongroom.ui.documents.passage_dialog import PassageDialog
    from tests.helpers.documents import make_library_folder

    folder = make_library_folder(home / "Casework documents")
    window.new_conversation()
    QTest.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    dialog = window.documents.dialog
    dialog.new_library("Casework")
    dialog.add([folder])
    wait_signal(dialog.runFinished)
    dialog.table.selectRow(0)
    shoot(dialog, "documents.png")
    dialog.close()
    window.library_picker.setCurrentIndex(1)
    window.input.setPlainText("What is the annual rent of the Harrowgate lease, and how is it paid?")
    window.send()
    wait_signal(window.answerCompleted)
    window.input.setFocus()
    shoot(window, "window-sources.png")
    window.chat_view.messages[-1].sources.buttons[0].click()
    wait_for(lambda: bool(window.findChildren(PassageDialog)))
    passage = window.findChildren(PassageDialog)[-1]
    shoot(passage, "passage.png")
    passage.close()


def main() -> int:
    if not os.environ.get("DISPLAY"):
        print("needs an X display: run scripts/screenshots.sh", file=sys.stderr)
        return 1
    if not DEMO_MODEL.is_file():
        print(f"missing {DEMO_MODEL}: run `make setup` first", file=sys.stderr)
        return 1
    home = Path(tempfile.mkdtemp(prefix="strongroom-screens-"))
    os.environ["STRONGROOM_HOME"] = str(home)
    drive = make_drive(home)

    from strongroom.core.workspace import Workspace
    from strongroom.ui.app import create_application
    from strongroom.ui.models.import_wizard import DONE, REVIEW, VERIFY
    from strongroom.ui.window.main_window import MainWindow

    app = create_application([sys.argv[0]])
    workspace = Workspace.open()
    workspace.settings.update({"theme": "light", "temperature": 0.8, "max_tokens": 200,
                               "context_length": 2048})
    window = MainWindow(workspace)
    window.resize(1180, 760)
    window.show()
    wait_for(lambda: window.models.catalog is not None)

    wizard = window.dialogs.open_import_wizard()
    wizard.pages[0].choose(drive)
    QTest.keyClick(wizard, Qt.Key.Key_Return)  # → the models
    QTest.keyClick(wizard, Qt.Key.Key_Return)  # → verifying
    wait_signal(wizard.pages[VERIFY].taskEnded)
    QTest.keyClick(wizard, Qt.Key.Key_Return)  # → the review
    wait_for(lambda: wizard.currentId() == REVIEW)
    QTest.keyClick(wizard, Qt.Key.Key_Return)  # Import, then Done by itself
    wait_for(lambda: wizard.currentId() == DONE)
    shoot(wizard, "import-done.png")
    QTest.keyClick(wizard, Qt.Key.Key_Return)  # Finish

    wait_for(lambda: window.models.catalog is not None and window.models.catalog.staged)
    manager = window.dialogs.open_model_manager()
    manager.table.selectRow(0)
    manager.buttons["Smoke test"].click()
    wait_signal(manager.smokeTested)
    manager.table.selectRow(0)
    shoot(manager, "model-manager.png")
    manager.buttons["Promote"].click()
    wait_signal(window.modelReady)
    manager.accept()

    window.input.setPlainText(QUESTION)
    window.send()
    wait_signal(window.answerCompleted)
    window.regenerate()
    wait_signal(window.answerCompleted)
    window.input.setFocus()
    shoot(window, "window-light.png")
    window.apply_settings({"theme": "dark"})
    shoot(window, "window-dark.png")
    window.apply_settings({"theme": "light"})
    shoot_documents(window, home)
    window.close()
    workspace.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
