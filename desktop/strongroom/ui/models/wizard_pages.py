"""The import wizard's pages, one per step of `strongroom.core.store.import_workflow`: each
shows its step and asks the core logic what is allowed. Verification and import run off
the GUI thread (`Tasks`) with progress, rate, ETA and Cancel; text from a drive is made
visible and escaped before it is shown."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from strongroom.core.display import printable
from strongroom.core.store.import_workflow import ImportWorkflow, Step
from strongroom.core.units import human_size
from strongroom.ui.common import theme
from strongroom.ui.common.background import Tasks, from_progress

DRIVE, MODELS, VERIFY, REVIEW, IMPORT, DONE, FAILED = range(7)


def shown(text: str) -> str:
    """Text from a drive, made visible (see `printable`) and safe inside rich text."""
    return html.escape(printable(text))


class _Page(QWizardPage):
    def logic(self) -> ImportWorkflow:
        return self.wizard().logic

    def focus_forward(self) -> None:
        """Give the keyboard to the button that moves on from this page."""
        wizard = self.wizard()
        if wizard is not None:
            wizard.focus_forward()

    def isComplete(self) -> bool:
        return self.logic().can_advance()

    def validatePage(self) -> bool:
        if self.logic().step is not Step.FAILED:  # a failure jumps to the failure page
            self.logic().advance()
        return True

    def cleanupPage(self) -> None:  # the user went Back
        self.logic().back()


class DrivePage(_Page):
    def __init__(self):
        super().__init__()
        self.setTitle("Choose the transfer drive")
        self.setSubTitle("Strongroom imports only files whose every byte matches the drive's "
                         "manifests. Choose a mounted drive, a drive folder, or an Ollama models folder.")
        self.drives = QListWidget()
        self.drives.setAccessibleName("Drives found")
        self.drives.currentRowChanged.connect(self._on_row)
        browse = QPushButton("&Choose a folder…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Drives found on this computer:"))
        layout.addWidget(self.drives)
        layout.addWidget(browse, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.status)

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self.found):
            self.choose(self.found[row])

    def initializePage(self) -> None:
        self.drives.clear()
        found = self.found = self.logic().candidate_drives()
        self.drives.addItems([printable(str(p)) for p in found])
        if not found:
            self.status.setText("No mounted drive with models was found under /media, /run/media "
                                "or /mnt. Choose the drive's folder instead.")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the transfer drive")
        if folder:
            self.choose(Path(folder))

    def choose(self, path: Path) -> None:
        problem = self.logic().choose_drive(path)
        if problem:
            self.status.setText(f"<b>This folder cannot be imported from.</b> {shown(problem)}")
        else:
            drive = self.logic().drive
            about = (drive.metadata or "").strip().splitlines()
            self.status.setText(f"<b>{shown(str(drive.root))}</b> ({shown(drive.label)}) "
                                f"offers {len(drive.models)} model(s)."
                                + "".join(f"<br>{shown(line)}" for line in about[:3]))
        self.completeChanged.emit()
        if not problem:
            self.focus_forward()


class ModelsPage(_Page):
    def __init__(self):
        super().__init__()
        self.setTitle("Choose the models to import")
        self.list = QListWidget()
        self.list.setAccessibleName("Models on the drive")
        self.list.itemChanged.connect(self._changed)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)

    def initializePage(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for model in self.logic().offered():
            size = model.total_size
            text = (f"{printable(model.name)} — {printable(model.model_id)}, {len(model.entries)} file(s)"
                    + (f", {human_size(size)}" if size is not None else ""))
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, model.name)
            if model.problems:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setText(f"{printable(model.name)} — cannot be imported")
                item.setToolTip("\n".join(printable(p) for p in model.problems))
                item.setCheckState(Qt.CheckState.Unchecked)
            else:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = model.name in self.logic().selected
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)

    @Slot(QListWidgetItem)
    def _changed(self, _item) -> None:
        chosen = [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                  if self.list.item(i).checkState() == Qt.CheckState.Checked]
        self.logic().choose_models(chosen)
        self.completeChanged.emit()


class _TaskPage(_Page):
    """A page that runs one long step with a progress bar, a status line and Cancel.

    Signals:
        taskEnded(): the step's job finished, failed or was cancelled.
    """

    taskEnded = Signal()

    def __init__(self, title: str, subtitle: str):
        super().__init__()
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.line = QLabel()
        self.line.setTextFormat(Qt.TextFormat.PlainText)
        self.line.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        self.result = QLabel()
        self.result.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.line)
        layout.addWidget(self.result)
        layout.addStretch(1)
        self.tasks = Tasks(self)
        self.tasks.progress.connect(self._progress)

    def job(self):
        raise NotImplementedError

    def initializePage(self) -> None:
        self.bar.setValue(0)
        self.result.clear()
        self.line.clear()
        self.cancel_button.setEnabled(True)
        self.tasks.run(self.job(), self._finished, self._failed, self._cancelled)

    @Slot(float, str)
    def _progress(self, fraction: float, text: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.line.setText(printable(text))

    @Slot()
    def cancel(self) -> None:
        self.tasks.cancel()

    def _ended(self) -> None:
        self.cancel_button.setEnabled(False)
        self.completeChanged.emit()
        self.focus_forward()  # not left to whatever follows the disabled Cancel (Back)
        self.taskEnded.emit()
        if self.logic().step is Step.FAILED:
            self.wizard().next()

    @Slot(object)
    def _finished(self, _result) -> None:
        self.bar.setValue(1000)
        self._ended()

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.logic().fail(message)
        self._ended()

    @Slot()
    def _cancelled(self) -> None:
        self.result.setText("Cancelled. Nothing was changed.")
        self._ended()

    def stop(self) -> None:
        self.tasks.stop()


class VerifyPage(_TaskPage):
    def __init__(self):
        super().__init__("Verifying the drive",
                         "Every file is read and compared with the manifests. Nothing is copied yet.")

    def job(self):
        return lambda report, cancel: self.logic().run_verify(from_progress(report), cancel)

    @Slot(object)
    def _finished(self, report) -> None:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts().items()))
        self.result.setText(f"<b>{'Verified' if report.ok else 'Failed'}</b>: {counts}.")
        super()._finished(report)

    def nextId(self) -> int:
        return FAILED if self.logic().step is Step.FAILED else REVIEW

    def cleanupPage(self) -> None:
        self.stop()
        super().cleanupPage()


class ReviewPage(_Page):
    def __init__(self):
        super().__init__()
        self.setTitle("Review before importing")
        self.setSubTitle("This is what will enter the model store. Check the model and its origin.")
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        # Importing is the step there is no going back from: no Back on the pages after it.
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Import")

    def initializePage(self) -> None:
        parts, colours = [], theme.current()
        for item in self.logic().review():
            for line in item.lines():
                escaped = html.escape(line).replace("  ", "&nbsp;&nbsp;")  # lines() escapes
                if line.strip().startswith("warning:"):
                    escaped = f"<span style='color:{colours.warn}'>{escaped}</span>"
                elif line.strip().startswith("Signed by "):
                    escaped = f"<b style='color:{colours.ok}'>{escaped}</b>"
                elif line.strip().startswith("Not signed"):
                    escaped = f"<b style='color:{colours.warn}'>{escaped}</b>"
                parts.append(escaped)
            parts.append("")
        notes = self.logic().report.notes if self.logic().report else []
        parts += [f"<i>{shown(n)}</i>" for n in notes]
        self.text.setHtml("<br>".join(parts))


class ImportPage(_TaskPage):
    def __init__(self):
        super().__init__("Importing",
                         "Each file is copied into the store and checked again as it lands.")

    def job(self):
        return lambda report, cancel: self.logic().run_import(from_progress(report), cancel)

    @Slot(object)
    def _finished(self, result) -> None:
        super()._finished(result)
        if self.logic().step is not Step.FAILED and self.wizard().currentPage() is self:
            self.wizard().next()  # straight on to what was imported, Finish ready for Enter

    def nextId(self) -> int:
        return FAILED if self.logic().step is Step.FAILED else DONE


class DonePage(_Page):
    def __init__(self):
        super().__init__()
        self.setTitle("Imported")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        QVBoxLayout(self).addWidget(self.summary)

    def initializePage(self) -> None:
        lines = []
        for result in self.logic().imported:
            state = ("was already in the store" if result.already_present
                     else "is now in the store, staged")
            lines.append(f"<b>{html.escape(result.version.name)}</b> {state}.")
        if any(not r.already_present for r in self.logic().imported):
            lines.append("A new version is not used for chat until it has been tested and "
                         "promoted: choose Model → Manage models…, select it, then Smoke test "
                         "and Promote.")
        self.summary.setText("<br>".join(lines))
        QTimer.singleShot(0, self, self.focus_forward)  # Enter finishes; it never goes back

    def isComplete(self) -> bool:
        return True

    def validatePage(self) -> bool:
        return True  # Finish: the import is over

    def nextId(self) -> int:
        return -1


class FailurePage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Nothing was imported")
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # it names what the drive holds
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.files = QListWidget()
        self.files.setAccessibleName("Files that failed")
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.files)

    def initializePage(self) -> None:
        logic = self.wizard().logic
        self.message.setText(printable(logic.failure or ""))
        self.files.clear()
        self.files.addItems([f.line() for f in logic.failed_files])

    def nextId(self) -> int:
        return -1
