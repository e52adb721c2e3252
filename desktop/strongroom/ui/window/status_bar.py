"""The status bar: model, CPU/GPU, speed, load progress, audit and lock state, where
passages go, and Offline."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model_label = QLabel("No model loaded")
        self.device_label = QLabel("")
        self.speed_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.audit_label = QLabel()
        self.audit_label.setObjectName("auditIndicator")
        self.audit_label.hide()
        self.lock_label = QLabel()
        self.lock_label.setObjectName("lockIndicator")
        self.lock_label.hide()
        self.passages_label = QLabel()  # library passages going to the firm's server
        self.passages_label.setObjectName("passagesIndicator")
        self.passages_label.hide()
        self.offline_label = QLabel()
        self.offline_label.setObjectName("offlineIndicator")
        self.blocked: list[str] = []
        self.servers: list[str] = []  # the configured inference servers, "name (url)"
        for widget in (self.model_label, self.device_label, self.speed_label):
            self.addWidget(widget)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.audit_label)
        self.addPermanentWidget(self.lock_label)
        self.addPermanentWidget(self.passages_label)
        self.addPermanentWidget(self.offline_label)
        self._show_offline()

    def show_loading(self, stage: str, fraction: float) -> None:
        self.model_label.setText(stage + "…")
        self.progress.show()
        if fraction < 0:
            self.progress.setRange(0, 0)  # busy
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))

    def show_model(self, name: str, device: str, context: int, trained: int | None = None) -> None:
        """The model, and its context as one figure: what is in use, of what it was trained on."""
        self.progress.hide()
        of = f" of {trained:,}" if trained and trained != context else ""
        self.model_label.setText(f"Model: {name} · context {context:,}{of} tokens")
        self.model_label.setToolTip("How much of the conversation the model reads at once; "
                                    "Settings → Context length changes it, up to what the "
                                    "model was trained on.")
        self.device_label.setText(device)
        self.speed_label.setText("")

    def show_no_model(self) -> None:
        self.progress.hide()
        self.model_label.setText("No model loaded")
        self.device_label.setText("")
        self.speed_label.setText("")

    def show_speed(self, tokens_per_second: float | None) -> None:
        self.speed_label.setText("" if tokens_per_second is None
                                 else f"{tokens_per_second:.1f} tokens/s")

    def show_audit(self, problem: str | None, tampering: bool) -> None:
        """Say when the audit log cannot be written (nothing is answered), in red when it was
        found altered."""
        if problem is None:
            self.audit_label.hide()
            return
        self.audit_label.setText("● Audit log altered — nothing is answered" if tampering
                                 else "● Audit log unavailable — nothing is answered")
        self.audit_label.setToolTip(problem)
        self.audit_label.setProperty("alert", True)
        self.audit_label.style().unpolish(self.audit_label)
        self.audit_label.style().polish(self.audit_label)
        self.audit_label.show()

    def show_lock(self, minutes: int, locked: bool) -> None:
        """The lock state: locked, or when the window will lock itself (nothing when never)."""
        if locked:
            self.lock_label.setText("● Locked")
            self.lock_label.setToolTip("The conversations are closed until you unlock.")
        elif minutes:
            self.lock_label.setText(f"Locks after {minutes} min idle")
            self.lock_label.setToolTip("File → Lock now (Ctrl+Shift+L) locks at once.")
        self.lock_label.setVisible(locked or bool(minutes))

    def show_passages(self, text: str | None) -> None:
        """Say that a library's passages leave the workstation (None: they do not)."""
        self.passages_label.setText(f"● {text}" if text else "")
        self.passages_label.setToolTip("With each question, the passages found in the library "
                                       "are sent to the firm's inference server over TLS.")
        self.passages_label.setVisible(bool(text))

    def show_servers(self, servers: list[str]) -> None:
        """The configured inference servers (``"name (url)"``), the one place answers may
        come from besides this computer; the indicator says so."""
        self.servers = servers
        self._show_offline()

    @Slot(str)
    def record_blocked(self, destination: str) -> None:
        self.blocked.append(destination)
        self._show_offline()

    def _show_offline(self) -> None:
        servers = self.servers
        if not self.blocked and servers:
            self.offline_label.setText("● Offline but for the firm's server"
                                       + ("s" if len(servers) > 1 else ""))
            self.offline_label.setToolTip(
                "Strongroom connects only to the firm's inference server" + ("s" if len(servers) > 1
                                                                             else "")
                + " configured in Settings → Servers, over TLS: " + "; ".join(servers)
                + ". Anything else leaving this machine is blocked.")
            self.offline_label.setProperty("alert", False)
        elif not self.blocked:
            self.offline_label.setText("● Offline")
            self.offline_label.setToolTip(
                "Strongroom makes no network connections: anything leaving this machine is blocked.")
            self.offline_label.setProperty("alert", False)
        else:
            count = len(self.blocked)
            self.offline_label.setText(f"● Offline — blocked {count} connection attempt"
                                       + ("s" if count > 1 else ""))
            self.offline_label.setToolTip("Blocked attempts to reach:\n" + "\n".join(self.blocked[-10:]))
            self.offline_label.setProperty("alert", True)
        self.offline_label.style().unpolish(self.offline_label)
        self.offline_label.style().polish(self.offline_label)
