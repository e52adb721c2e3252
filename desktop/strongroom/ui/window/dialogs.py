"""The windows and dialogs the main window opens: import, model manager, settings,
compliance, the audit viewer, and exporting a conversation or a checkpoint. A part of the
main window kept in its own file (`MainWindow.dialogs`); each opens over the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QFileDialog

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.chats.export import export_conversation
from strongroom.core.compliance import build_report
from strongroom.core.transfer.signatures import SigningError
from strongroom.ui.audit.compliance_view import ComplianceView
from strongroom.ui.audit.viewer import AuditViewer
from strongroom.ui.models.import_wizard import ImportWizardDialog
from strongroom.ui.models.model_manager import ModelManager
from strongroom.ui.settings.servers_page import ServersPage
from strongroom.ui.settings.settings_dialog import SettingsDialog
from strongroom.ui.window.export_dialog import ask_export_path


class Dialogs(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        self.workspace = window.workspace
        self.audit = window.audit

    @Slot()
    def open_import_wizard(self) -> ImportWizardDialog | None:
        try:
            policy = self.workspace.trust.policy()
        except SigningError as error:  # a damaged trust list must not mean "trust nothing"
            self.window_.show_notice(str(error))
            return None
        wizard = ImportWizardDialog(self.workspace.store, self.window_, auditor=self.audit, trust=policy)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.imported.connect(self.window_.models.refresh)
        wizard.open()
        return wizard

    @Slot()
    def open_model_manager(self) -> ModelManager:
        manager = ModelManager(self.window_)
        manager.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        manager.changed.connect(self.window_.models.refresh)
        manager.open()
        return manager

    @Slot()
    def open_compliance_view(self) -> ComplianceView:
        view = ComplianceView(build_report(self.workspace, self.window_._egress_guard), self.audit,
                             self.window_)
        view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        view.open()
        return view

    @Slot()
    def open_audit_viewer(self) -> AuditViewer:
        viewer = AuditViewer(self.workspace.paths.audit_log, self.audit, self.window_)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.show()
        return viewer

    @Slot()
    def ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window_, "Export an audit checkpoint",
                                              str(Path.home() / "strongroom-checkpoint.json"),
                                              "Checkpoints (*.json)")
        if path:
            self.export_checkpoint(Path(path))

    def export_checkpoint(self, path: Path) -> None:
        try:
            record = self.audit.export_checkpoint(path)
        except (OSError, AuditUnavailable) as error:
            self.window_.show_notice(f"The checkpoint could not be written: {error}")
            return
        self.window_.show_notice(f"Checkpoint of entry {record['seq']} saved to {path}. Keep it off this "
                         "computer; it lets an auditor show that nothing was cut from the log.",
                         "success")

    @Slot()
    def open_settings(self) -> None:
        info = self.window_.loaded.identity.info if self.window_.loaded else None
        servers = ServersPage(self.workspace)
        servers.changed.connect(self.window_.models.refresh)
        dialog = SettingsDialog(self.window_.settings.as_dict(), self.window_,
                                trained_context=info.context_length if info else None,
                                model=self.window_.settings.model, pages={"Servers": servers})
        accepted = dialog.exec()
        servers.close_tasks()
        if accepted:
            self.window_.apply_settings(dialog.values())

    def ask_export(self, kind: str) -> None:
        if self.window_.conversation_id is None:
            self.window_.show_notice("Open a conversation to export it.", "info")
            return
        path = ask_export_path(self.window_, self.workspace.chats.conversation(self.window_.conversation_id).title, kind)
        if path is not None:
            self.export_conversation(path, kind)

    def export_conversation(self, path: Path, kind: str) -> None:
        try:
            export_conversation(self.workspace.chats, self.window_.conversation_id, path, kind, self.audit)
        except AuditUnavailable as error:
            self.window_.show_notice(str(error))
        except OSError as error:
            self.window_.show_notice(f"The conversation could not be exported to {path}: {error.strerror}.")
        else:
            self.window_.show_notice(f"Exported to {path}.", "success")
