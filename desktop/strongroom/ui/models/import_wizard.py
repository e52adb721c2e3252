"""The import wizard window: its pages (`wizard_pages`) show the steps of
`strongroom.core.store.import_workflow`.

From the keyboard, Enter always moves forward (Next, Import, Finish): no other button of
the wizard or its pages takes Enter, and when a page's own work ends (a folder chosen, a
verification finished) the keyboard goes to the button that moves forward.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget, QWizard

from strongroom.core.store.import_workflow import ImportWorkflow
from strongroom.core.store.model_store import ModelStore
from strongroom.ui.models.wizard_pages import (
    DONE,
    DRIVE,
    FAILED,
    IMPORT,
    MODELS,
    REVIEW,
    VERIFY,
    DonePage,
    DrivePage,
    FailurePage,
    ImportPage,
    ModelsPage,
    ReviewPage,
    VerifyPage,
)

__all__ = ["DONE", "DRIVE", "FAILED", "IMPORT", "MODELS", "REVIEW", "VERIFY", "ImportWizardDialog"]


class ImportWizardDialog(QWizard):
    """Signals:
        imported(): at least one model entered the store.
    """

    imported = Signal()

    def __init__(self, store: ModelStore, parent: QWidget | None = None,
                 logic: ImportWorkflow | None = None, auditor=None, trust=None):
        super().__init__(parent)
        self.logic = logic or ImportWorkflow(store, auditor=auditor, trust=trust)
        self.setWindowTitle("Import models from a drive")
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.pages = {DRIVE: DrivePage(), MODELS: ModelsPage(), VERIFY: VerifyPage(),
                      REVIEW: ReviewPage(), IMPORT: ImportPage(), DONE: DonePage(),
                      FAILED: FailurePage()}
        for page_id, page in self.pages.items():
            self.setPage(page_id, page)
        self.setStartId(DRIVE)
        self.resize(760, 540)
        self.finished.connect(self._closed)
        for which in (QWizard.WizardButton.BackButton, QWizard.WizardButton.CancelButton):
            self.button(which).setAutoDefault(False)  # Enter only ever moves forward
        self.currentIdChanged.connect(lambda _id: QTimer.singleShot(0, self, self._settle_focus))

    FORWARD = (QWizard.WizardButton.NextButton, QWizard.WizardButton.CommitButton,
               QWizard.WizardButton.FinishButton)

    def forward_button(self):
        """The button that moves on from the page shown (Next, Import or Finish)."""
        return next((self.button(which) for which in self.FORWARD
                     if self.button(which).isVisible()), None)

    def focus_forward(self) -> None:
        button = self.forward_button()
        if button is not None and button.isEnabled():
            button.setFocus(Qt.FocusReason.OtherFocusReason)

    @Slot()
    def _settle_focus(self) -> None:
        """A new page: where the focus landed on a wizard button, it is the forward one
        (QWizard may leave it on Back, which Enter would then press)."""
        focused = self.focusWidget()
        if focused is None or focused in (self.button(QWizard.WizardButton.BackButton),
                                          self.button(QWizard.WizardButton.CancelButton)):
            self.focus_forward()

    @Slot(int)
    def _closed(self, _result: int) -> None:
        for page in (self.pages[VERIFY], self.pages[IMPORT]):
            page.stop()
        if any(not r.already_present for r in self.logic.imported):
            self.imported.emit()
