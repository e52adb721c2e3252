"""Model → Manage models…: every stored version with its state, role, provenance and
smoke test (the model's own answers included), and the steps of the reference update
procedure (smoke test, promote, roll back, retire, remove). The rules are
`core.store.lifecycle`'s; this window shows them and asks.

The table moves by rows; what identifies a version (Model, Version, State, Role) comes
first and stays in view, and the rest of its facts are in the pane below it. It opens on
the newest version, the one an officer has usually just imported."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.display import printable
from strongroom.core.inference.engine import LoadOptions
from strongroom.core.inference.gguf_header import GGUFError, read_gguf_info
from strongroom.core.inference.identity import is_embedding_model
from strongroom.core.store.lifecycle import (
    ACTIVE,
    LifecycleError,
    NeedsOverride,
    VersionState,
    version_problems,
)
from strongroom.core.store.smoke_test import describe
from strongroom.core.units import human_size
from strongroom.ui.common.background import Tasks

COLUMNS = ("Model", "Version", "State", "Role", "Smoke test", "Signed by", "Size")
DETAILS = ("Quantization", "Context", "Imported", "Source")


def _row_facts(state: VersionState) -> dict[str, str]:
    version = state.version
    record = version.provenance
    signature = record.get("signature") if isinstance(record.get("signature"), dict) else {}
    drive = record.get("drive") if isinstance(record.get("drive"), dict) else {}
    size = sum(int(f.get("size_bytes") or 0) for f in version.files)
    quantization = context = role = "?"
    files = version.gguf_files()
    if files:
        try:
            info = read_gguf_info(files[0])
            quantization = info.quantization or "?"
            context = f"{info.context_length:,}" if info.context_length else "?"
            role = "embedding (documents)" if is_embedding_model(info) else "chat"
        except (GGUFError, OSError):
            pass
    facts = {
        "Model": version.name, "Version": version.version[:8], "State": state.state,
        "Role": role, "Smoke test": describe(state.smoke_test),
        "Signed by": str(signature.get("signer") or "not signed"),
        "Size": human_size(size), "Quantization": quantization, "Context": context,
        "Imported": f"{record.get('imported_at', '?')} by {record.get('imported_by', '?')}",
        "Source": f"{record.get('model_id', '?')} @ {record.get('revision', '?')}",
    }
    return {key: printable(str(value)) for key, value in facts.items()} | {
        "drive": printable(str(drive.get("label") or drive.get("path") or "?")),
        "commit": printable(str(record.get("commit") or "unknown")),
        "full version": version.version}


class ModelManager(QDialog):
    """Signals:
        changed(): a version changed state or was removed (the picker refreshes).
        smokeTested(object): a smoke test finished (its result dict).
    """

    changed = Signal()
    smokeTested = Signal(object)

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setWindowTitle("Manage models")
        self.window_ = window
        self.lifecycle = window.workspace.lifecycle
        self.states: list[VersionState] = []
        self.tasks = Tasks(self)
        self._testing = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAccessibleName("Model versions")
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # Left and Right would move the current cell off the first columns and scroll them
        # away; the keyboard moves by rows here.
        self.table.currentCellChanged.connect(self._keep_first_column)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Version details")
        self.disk_use = QLabel()
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = {}
        row = QHBoxLayout()
        for text, slot in (("&Smoke test", self.smoke_test_selected),
                           ("&Promote", self.promote_selected),
                           ("Roll &back", self.rollback_selected),
                           ("&Retire", self.retire_selected),
                           ("Re&move…", self.remove_selected)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[text.replace("&", "")] = button
        row.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row.addWidget(close)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.disk_use)
        layout.addWidget(self.notice)
        layout.addLayout(row)
        self.resize(1000, 560)
        window.host.worker.smokeTested.connect(self._on_smoke_tested)
        self.refresh()

    # -- showing ---------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        selected = select or (self.selected().store_id if self.selected() else None)
        try:
            self.states = self.lifecycle.states()
        except LifecycleError as error:
            self.states = []
            self.say(str(error))
        self.facts = [_row_facts(s) for s in self.states]
        self.table.setRowCount(len(self.states))
        for row, facts in enumerate(self.facts):
            for column, name in enumerate(COLUMNS):
                self.table.setItem(row, column, QTableWidgetItem(facts[name]))
        self.table.resizeColumnsToContents()
        self.disk_use.setText(self._disk_use())
        rows = [i for i, s in enumerate(self.states) if s.store_id == selected]
        self.table.selectRow(rows[0] if rows else self._newest_row())
        self._show_selected()

    def _newest_row(self) -> int:
        """The version imported last (what an officer opens this window for, mostly)."""
        if not self.states:
            return 0
        return max(range(len(self.states)),
                   key=lambda i: str(self.states[i].version.provenance.get("imported_at", "")))

    @Slot(int, int, int, int)
    def _keep_first_column(self, row: int, column: int, _old_row: int, _old_column: int) -> None:
        if column > 0 and row >= 0:
            self.table.setCurrentCell(row, 0)

    def _disk_use(self) -> str:
        blobs = self.window_.workspace.store.blobs
        used = sum(p.stat().st_size for p in blobs.iterdir() if p.is_file())
        return (f"{len(self.states)} version(s) using {human_size(used)} on disk; a file that "
                "several versions share is stored once.")

    def selected(self) -> VersionState | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.states[rows[0].row()] if rows and rows[0].row() < len(self.states) else None

    @Slot()
    def _show_selected(self) -> None:
        state = self.selected()
        busy = self.tasks.busy or self._testing is not None
        for button in self.buttons.values():
            button.setEnabled(state is not None and not busy)
        if state is None:
            self.details.setPlainText("The store is empty. Import a model from a drive first.")
            return
        facts = self.facts[self.states.index(state)]
        lines = [f"{name}: {facts[name]}" for name in (*COLUMNS, *DETAILS)]
        lines += [f"Full version: {facts['full version']}", f"Drive: {facts['drive']}",
                  f"Commit: {facts['commit']}"]
        prompts = (state.smoke_test or {}).get("prompts", [])
        if prompts:
            lines.append("Smoke test, prompt by prompt:")
        for prompt in prompts:
            lines.append(f"  {'ok' if prompt.get('ok') else 'FAILED'}: "
                         f"{printable(str(prompt.get('prompt')))} ({prompt.get('seconds')} s)"
                         + (f" — {printable(str(prompt.get('problem')))}" if prompt.get("problem") else ""))
            if prompt.get("answer"):
                lines.append(f"      answered: {printable(str(prompt['answer']), limit=400)}")
        self.details.setPlainText("\n".join(lines))

    def say(self, text: str) -> None:
        self.notice.setText(text)

    # -- the steps ---------------------------------------------------------------------------

    @Slot()
    def smoke_test_selected(self) -> None:
        state = self.selected()
        if state is None:
            return
        self._testing = state.version
        self.say(f"Smoke-testing {state.store_id}: loading it and asking three short prompts "
                 "(an embedding model embeds three sentences)…")
        self._show_selected()
        settings = self.window_.settings.as_dict()
        self.window_.host.smoke_test(state.version, LoadOptions.from_settings(settings))

    @Slot(object, object)
    def _on_smoke_tested(self, version, result: dict) -> None:
        if self._testing is None or version.store_id != self._testing.store_id:
            return
        self._testing = None
        try:
            self.lifecycle.record_smoke_test(version, result)
        except (LifecycleError, AuditUnavailable) as error:
            self.say(f"The result could not be kept: {error}")
        else:
            self.say(f"{version.store_id}: smoke test {describe(result)}.")
        self.refresh(version.store_id)
        self.smokeTested.emit(result)

    @Slot()
    def promote_selected(self) -> None:
        state = self.selected()
        if state is None:
            return
        override = False
        if not state.smoke_passed:
            question = (f"{state.store_id} has {'failed' if state.smoke_test else 'not had'} its "
                        "smoke test. Promote it anyway? The audit log records that you overrode "
                        "the test.")
            if not self._ask("Promote without a passed smoke test?", question):
                return
            override = True
        self.say(f"Checking {state.store_id}'s files against the store before promoting it…")
        check = version_problems(self.window_.workspace.store, self.window_.workspace.paths.audit_log)
        self.tasks.call(lambda: check(state.version),
                        lambda problems: self._promote(state, problems, override),
                        lambda message: self._done(f"The check failed: {message}"))
        self._show_selected()

    def _promote(self, state: VersionState, problems: list[str], override: bool) -> None:
        try:
            replaced = self.lifecycle.promote(state.version, verified=lambda _v: problems,
                                              override=override)
        except NeedsOverride as error:  # its test result changed meanwhile
            self._done(str(error))
            return
        except (LifecycleError, AuditUnavailable) as error:
            self._done(str(error))
            return
        self._done(f"{state.store_id} is now the active version of {state.version.name}"
                   + (f"; {replaced.store_id} is kept as the previous version." if replaced else "."),
                   changed=True, select=state.store_id)

    @Slot()
    def rollback_selected(self) -> None:
        state = self.selected()
        if state is None:
            return
        try:
            now_active, rolled_back = self.lifecycle.rollback(state.version.name)
        except (LifecycleError, AuditUnavailable) as error:
            self._done(str(error))
            return
        self._done(f"{now_active.store_id} is the active version again; {rolled_back.store_id} "
                   "is staged.", changed=True, select=now_active.store_id)

    @Slot()
    def retire_selected(self) -> None:
        state = self.selected()
        if state is None:
            return
        try:
            self.lifecycle.retire(state.version)
        except (LifecycleError, AuditUnavailable) as error:
            self._done(str(error))
            return
        days = self.window_.settings["retention_days"]
        self._done(f"{state.store_id} is retired; it is removed in {days} days.", changed=True,
                   select=state.store_id)

    @Slot()
    def remove_selected(self) -> None:
        state = self.selected()
        if state is None:
            return
        warning = (" It is the active version: chats by its name stop until another is promoted."
                   if state.state == ACTIVE else "")
        if not self._ask("Remove this version?", f"Remove {state.store_id} ({state.state}) from "
                         f"the store now?{warning} Files other versions share are kept."):
            return
        loaded = self.window_.loaded
        if loaded is not None and loaded.identity.store_version == state.store_id:
            self.window_.models.unload()
        try:
            self.lifecycle.remove(state.version)
        except (LifecycleError, AuditUnavailable, OSError) as error:
            self._done(f"{state.store_id} was not removed: {error}")
            return
        self._done(f"{state.store_id} was removed.", changed=True)

    def _done(self, message: str, changed: bool = False, select: str | None = None) -> None:
        self.say(message)
        self.refresh(select)
        if changed:
            self.changed.emit()

    def _ask(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self, title, question,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def done(self, result: int) -> None:
        self.tasks.stop()
        self.window_.host.worker.smokeTested.disconnect(self._on_smoke_tested)
        super().done(result)
