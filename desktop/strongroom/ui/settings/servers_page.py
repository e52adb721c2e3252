"""Settings → Servers: the firm's inference servers this workstation may use.

The list, Add… (name, HTTPS address, the firm's CA file or a pinned fingerprint, the API
key, kept in the secret store), Remove and Test (the certificate's subject and
fingerprint, the models offered and the round trip, found on a background thread). Adding
and removing take effect at once and are audit entries; the egress guard follows.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.display import printable
from strongroom.core.inference.engine import EngineError
from strongroom.core.remote.engine import ServerReport, probe
from strongroom.core.remote.servers import Server, ServerError
from strongroom.ui.common.background import Tasks

_SERVER = Qt.ItemDataRole.UserRole


class ServersPage(QWidget):
    """Signals:
        changed(): a server was added or removed (the model list offers its models).
    """

    changed = Signal()

    def __init__(self, workspace, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace = workspace
        self.tasks = Tasks(self)
        self.list = QListWidget()
        self.list.setAccessibleName("Inference servers")
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.add_button = QPushButton("&Add…")
        self.remove_button = QPushButton("&Remove")
        self.test_button = QPushButton("&Test")
        self.add_button.clicked.connect(self.add_server)
        self.remove_button.clicked.connect(self.remove_server)
        self.test_button.clicked.connect(self.test_server)
        self.report = QLabel()
        self.report.setWordWrap(True)
        self.report.setTextFormat(Qt.TextFormat.PlainText)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        explanation = QLabel(
            "Answers can come from the firm's own inference server on the isolated network. "
            "Prompts, and passages from your documents, are sent to it over TLS; nothing goes "
            "to any other address. Each server is trusted by the firm's CA or by its "
            "certificate's fingerprint, never by this computer's usual certificate list.")
        explanation.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.report)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        try:
            servers = self.workspace.servers.servers()
        except ServerError as error:
            self.report.setText(str(error))
            servers = []
        for server in servers:
            trust = "pinned certificate" if server.pin else "firm's CA"
            key = "API key" if self.workspace.servers.api_key(server) else "no API key"
            item = QListWidgetItem(f"{server.name} — {server.url} — {trust}, {key}")
            item.setToolTip(printable(f"Trusts {server.trust}. Added {server.added} by "
                                      f"{server.added_by}."))
            item.setData(_SERVER, server)
            self.list.addItem(item)
        if servers:
            self.list.setCurrentRow(0)
        self._update_buttons()

    def selected(self) -> Server | None:
        item = self.list.currentItem()
        return item.data(_SERVER) if item is not None else None

    def _update_buttons(self) -> None:
        chosen = self.selected() is not None
        testing = self.tasks.busy
        self.remove_button.setEnabled(chosen and not testing)
        self.test_button.setEnabled(chosen and not testing)

    # -- actions ----------------------------------------------------------------------------

    @Slot()
    def add_server(self) -> None:
        dialog = AddServerDialog(self)
        while dialog.exec():
            try:
                self.add(**dialog.values())
                return
            except (ServerError, AuditUnavailable) as error:
                dialog.problem.setText(str(error))

    def add(self, name: str, url: str, ca_file: str, pin: str, api_key: str,
            timeout_s: float) -> Server:
        """Add the server (raises ServerError or AuditUnavailable with the reason); audited."""
        server = self.workspace.add_server(name, url, ca_file=Path(ca_file) if ca_file else None,
                                           pin=pin or None, api_key=api_key or None,
                                           timeout_s=timeout_s)
        self.report.setText(f"Added {server.name}. Test it to see its certificate and models.")
        self.refresh()
        self.changed.emit()
        return server

    @Slot()
    def remove_server(self) -> None:
        server = self.selected()
        if server is None:
            return
        try:
            self.workspace.remove_server(server.name)
        except (ServerError, AuditUnavailable) as error:
            self.report.setText(str(error))
            return
        self.report.setText(f"Removed {server.name}; nothing more is sent to it.")
        self.refresh()
        self.changed.emit()

    @Slot()
    def test_server(self) -> None:
        server = self.selected()
        if server is None or self.tasks.busy:
            return
        api_key = self.workspace.servers.api_key(server)
        self.report.setText(f"Connecting to {server.name}…")
        def job(_report, _cancel) -> ServerReport | str:
            try:
                return probe(server, api_key)
            except EngineError as error:  # expected (down, refused): shown, not logged
                return str(error)

        self.tasks.run(job, self._show_report, self._show_failure)
        self._update_buttons()

    @Slot(object)
    def _show_report(self, report: ServerReport | str) -> None:
        if isinstance(report, str):
            self._show_failure(report)
            return
        certificate = report.certificate
        models = ", ".join(m.id for m in report.models) or "none"
        self.report.setText(printable(
            f"{report.server.name} answered over TLS in {report.round_trip_s * 1000:.0f} ms.\n"
            f"Certificate: {certificate.subject}, issued by {certificate.issuer}, valid until "
            f"{certificate.not_after:%Y-%m-%d}.\nSHA-256: {certificate.fingerprint}\n"
            f"Models: {models}", keep_newlines=True))
        self._update_buttons()

    @Slot(str)
    def _show_failure(self, message: str) -> None:
        self.report.setText(message)
        self._update_buttons()

    def close_tasks(self) -> None:
        """Wait for a test still running (the dialog is closing)."""
        self.tasks.stop()


class AddServerDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Add an inference server")
        self.name = QLineEdit()
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://10.0.0.5:8443")
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText("the firm's CA certificate (PEM)")
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_ca)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file)
        ca_row.addWidget(choose)
        self.pin = QLineEdit()
        self.pin.setPlaceholderText("or: the certificate's SHA-256 fingerprint")
        # A whole fingerprint (64 hex digits, or 95 characters with colons) stays in view.
        self.pin.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.pin.setMinimumWidth(self.pin.fontMetrics().horizontalAdvance("0" * 66) + 16)
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.timeout = QSpinBox()
        self.timeout.setRange(1, 3600)
        self.timeout.setValue(120)
        self.timeout.setSuffix(" s")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.problem.setObjectName("settingWarning")
        form = QFormLayout()
        form.addRow("&Name", self.name)
        form.addRow("&Address", self.url)
        ca_label = QLabel("Firm's &CA")
        ca_label.setBuddy(self.ca_file)
        form.addRow(ca_label, ca_row)
        form.addRow("&Pinned certificate", self.pin)
        form.addRow("API &key", self.api_key)
        form.addRow("Give up after silence of", self.timeout)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def _choose_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "The firm's CA certificate", str(Path.home()),
                                              "Certificates (*.pem *.crt);;All files (*)")
        if path:
            self.ca_file.setText(path)

    def values(self) -> dict:
        return {"name": self.name.text().strip(), "url": self.url.text().strip(),
                "ca_file": self.ca_file.text().strip(), "pin": self.pin.text().strip(),
                "api_key": self.api_key.text().strip(), "timeout_s": float(self.timeout.value())}
