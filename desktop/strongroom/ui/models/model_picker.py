"""The model list at the top of the window: the catalog's models, each a `ModelIdentity`."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QWidget

from strongroom.core.display import printable
from strongroom.core.inference.identity import ModelIdentity
from strongroom.core.store.catalog import Catalog
from strongroom.core.units import human_size

_IDENTITY = Qt.ItemDataRole.UserRole


class ModelPicker(QComboBox):
    """Signals:
        chosen(object): the user picked a model (`ModelIdentity`).
    """

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumContentsLength(64)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setAccessibleName("Model")
        self.setToolTip("The model that answers (Ctrl+M)")
        self.activated.connect(self._on_activated)

    def show_catalog(self, catalog: Catalog, remote: list[ModelIdentity] = ()) -> None:
        """The store's models, then the configured servers' (``remote``)."""
        self.clear()
        for identity in [*catalog.entries, *remote]:
            self.addItem(printable(identity.summary()), identity)
            index = self.count() - 1
            self.setItemData(index, printable(describe(identity)) if identity.usable
                             else printable(identity.problem or ""), Qt.ItemDataRole.ToolTipRole)
            if not identity.usable:
                self.model().item(index).setEnabled(False)
        if catalog.notice and not remote:
            self.addItem("No models available")
        self.setEnabled(not catalog.notice or bool(remote))

    def select(self, identity: ModelIdentity | None) -> None:
        index = -1
        if identity is not None:
            index = next((i for i in range(self.count()) if self.itemData(i, _IDENTITY) == identity), -1)
        self.setCurrentIndex(index)

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        identity = self.itemData(index, _IDENTITY)
        if isinstance(identity, ModelIdentity):
            self.chosen.emit(identity)


def describe(identity: ModelIdentity) -> str:
    """A model's facts and origin, one per line."""
    if identity.server is not None:
        return (f"{identity.model_id}, answered by the inference server {identity.server}.\n"
                "Your prompts (and passages from your documents) are sent to it over TLS.")
    info = identity.info
    lines = [f"Architecture: {info.architecture}", f"Size: {human_size(info.file_size)}",
             f"Quantization: {info.quantization}",
             f"Trained context: {info.context_length or 'unknown'} tokens",
             f"Chat template: {'yes' if info.chat_template else 'no (a generic one is used)'}"]
    record = identity.provenance
    if record:
        lines.append(f"Model: {record.get('model_id')} @ {record.get('revision') or 'unknown revision'}")
        lines.append(f"Imported {record.get('imported_at')} by {record.get('imported_by')} from "
                     f"{(record.get('drive') or {}).get('label') or 'a drive'}")
        lines.append(f"Checked against the hub: {record.get('hub_check') or 'no'}")
    lines.append(str(identity.path))
    return "\n".join(lines)
