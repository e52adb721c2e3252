"""20,000 signal emits from a worker thread: PySide6 6.12.0 aborts the process on CPython 3.11
("Fatal Python error: bool_dealloc") after a few thousand; a streamed answer emits that many.
"""

import threading

from PySide6.QtCore import QObject, Signal, Slot

EMITS = 20_000


class Emitter(QObject):
    text = Signal(int, str)


class Receiver(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0
        self.last = -1
        self.in_order = True

    @Slot(int, str)
    def on_text(self, number, _text):
        self.in_order &= number == self.last + 1
        self.last = number
        self.count += 1


def test_twenty_thousand_cross_thread_emits(qtbot):
    emitter, receiver = Emitter(), Receiver()
    emitter.text.connect(receiver.on_text)  # receiver lives on the GUI thread: queued

    def flood():
        for number in range(EMITS):
            emitter.text.emit(number, "token")

    thread = threading.Thread(target=flood)
    thread.start()
    qtbot.waitUntil(lambda: receiver.count == EMITS, timeout=120_000)
    thread.join()
    assert receiver.in_order and receiver.last == EMITS - 1
