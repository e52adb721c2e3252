"""Starting the desktop app: the QApplication, its look, the workspace and the main window."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from strongroom import __version__
from strongroom.core.chats.database import ConversationStoreError
from strongroom.core.offline import EgressGuard
from strongroom.core.paths import app_paths
from strongroom.core.workspace import Workspace
from strongroom.ui.common.error_reporting import ErrorReporting
from strongroom.ui.common.resources import resource
from strongroom.ui.common.single_instance import SingleInstance
from strongroom.ui.common.theme import apply_appearance
from strongroom.ui.window.main_window import MainWindow
from strongroom.ui.window.start_keys import KeysAtStart

log = logging.getLogger(__name__)


def open_workspace_asking(parent=None) -> Workspace | None:
    """The workspace; when the conversations do not open, the person chooses what to do:
    give the recovery key, keep them aside and start fresh, or quit (None)."""
    from strongroom.ui.window.key_refused import ask_way_forward

    while True:
        try:
            return Workspace.open()
        except ConversationStoreError as error:
            if not ask_way_forward(str(error), parent):
                return None


def report_errors_in(window, app_log: Path) -> ErrorReporting:
    """Errors nothing else handled (a conversation database failing mid-session, a fault
    in Strongroom) go to the app log and to a notice in ``window`` that stays until it is
    dismissed."""
    reporting = ErrorReporting(lambda text: window.show_notice(text, "error", lasting=True),
                               app_log, parent=window)
    reporting.install()
    return reporting


def show_new_keys(workspace: Workspace, window) -> KeysAtStart:
    """The keys to take away (see `start_keys`), each in its own dialog, one after the
    other; returns what shows them."""
    keys = KeysAtStart(workspace, window)
    keys.start()
    return keys


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Strongroom")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("strongroom")
    app.setStyle("Fusion")
    apply_appearance(app, "system")  # the window applies the user's choice
    app.setWindowIcon(app_icon())
    return app


def app_icon() -> QIcon:
    """The icon at every rendered size (no SVG plugin needed), and the SVG for the rest."""
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        path = resource(f"icons/strongroom-{size}.png")
        if path is not None:
            icon.addFile(str(path))
    svg = resource("icons/strongroom.svg")
    if svg is not None:
        icon.addFile(str(svg))
    return icon


def run_audit_viewer(log_path: Path, auditor) -> int:
    """The auditor's window on its own (`strongroom audit view`)."""
    from strongroom.ui.audit.viewer import AuditViewer

    app = create_application()
    viewer = AuditViewer(log_path, auditor)
    reporting = ErrorReporting(lambda text: QMessageBox.warning(viewer, "Strongroom", text),
                               app_paths().app_log, parent=viewer)
    reporting.install()
    viewer.show()
    try:
        return app.exec()
    finally:
        reporting.uninstall()


def run_gui(workspace: Workspace | None = None, egress_guard: EgressGuard | None = None) -> int:
    app = create_application()
    instance = SingleInstance((workspace.paths if workspace else app_paths()).data_dir)
    if instance.ask_running_window():
        print("Strongroom is already open for this user's data; its window was brought forward.",
              file=sys.stderr)
        return 0
    workspace = workspace or open_workspace_asking()
    if workspace is None:
        return 1
    window = MainWindow(workspace, egress_guard)
    reporting = report_errors_in(window, workspace.paths.app_log)
    window.show()
    if not instance.listen():
        log.warning("a second start cannot find this window: %s", instance.server.errorString())
    instance.raiseRequested.connect(lambda: bring_forward(window))
    window.record_start()
    show_new_keys(workspace, window)
    log.info("Strongroom %s started", __version__)
    try:
        return app.exec()
    finally:
        reporting.uninstall()
        instance.close()
        workspace.close()


def bring_forward(window) -> None:
    if window.isMinimized():
        window.showNormal()
    window.raise_()
    window.activateWindow()
