"""The main window's dialogs and windows: import, model manager, compliance, audit
viewer and checkpoints. A part of `MainWindow`, kept apart to keep each file short."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFileDialog

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.compliance import build_report
from strongroom.core.transfer.signatures import SigningError
from strongroom.ui.audit.viewer import AuditViewer
from strongroom.ui.audit.compliance_view import ComplianceView
from strongroom.ui.models.import_wizard import ImportWizardDialog
from strongroom.ui.models.model_manager import ModelManager


class WindowDialogs:
    """Mixed into `MainWindow` (which has `workspace`, `audit`, `show_notice`,
    `refresh_models` and `_egress_guard`)."""

    @Slot()
    def open_import_wizard(self) -> ImportWizardDialog | None:
        try:
            policy = self.workspace.trust.policy()
        except SigningError as error:  # a damaged trust list must not mean "trust nothing"
            self.show_notice(str(error))
            return None
        wizard = ImportWizardDialog(self.workspace.store, self, auditor=self.audit, trust=policy)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.imported.connect(self.refresh_models)
        wizard.open()
        return wizard

    @Slot()
    def open_model_manager(self) -> ModelManager:
        manager = ModelManager(self)
        manager.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        manager.changed.connect(self.refresh_models)
        manager.open()
        return manager

    @Slot()
    def open_compliance_view(self) -> ComplianceView:
        view = ComplianceView(build_report(self.workspace, self._egress_guard), self.audit, self)
        view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        view.open()
        return view

    @Slot()
    def open_audit_viewer(self) -> AuditViewer:
        viewer = AuditViewer(self.workspace.paths.audit_log, self.audit, self)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.show()
        return viewer

    def _ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export an audit checkpoint",
                                              str(Path.home() / "strongroom-checkpoint.json"),
                                              "Checkpoints (*.json)")
        if path:
            self.export_checkpoint(Path(path))

    def export_checkpoint(self, path: Path) -> None:
        try:
            record = self.audit.export_checkpoint(path)
        except (OSError, AuditUnavailable) as error:
            self.show_notice(f"The checkpoint could not be written: {error}")
            return
        self.show_notice(f"Checkpoint of entry {record['seq']} saved to {path}. Keep it off this "
                         "computer; it lets an auditor show that nothing was cut from the log.",
                         "success")

