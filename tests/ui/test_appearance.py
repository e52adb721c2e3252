"""Themes, contrast, zoom and the collapsible sidebar, measured on the real widgets.

Contrast is computed from what the widgets really draw with: the colour each text widget
paints its text in (its palette after the style sheet was applied), the background its
grabbed image mostly shows, and the colours written into the chat's code blocks.
"""

from collections import Counter

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QTextCursor
from PySide6.QtWidgets import QApplication, QLabel

from strongroom.ui.chat.chat_view import ChatView
from strongroom.ui.common import theme
from strongroom.ui.common.notice_bar import NoticeBar

AA_TEXT = 4.5

ANSWER = """Here is the function:

```python
@cache
def total(items: list[int]) -> int:
    # add them up, "twice"
    return sum(x * 2 for x in items if x > 0) or None
```

and a command: `ls`

```bash
echo "hi" | grep h  # done
```
"""


@pytest.fixture(params=["light", "dark"])
def themed(request, qapp):
    colours = theme.apply_appearance(qapp, request.param)
    yield colours
    theme.apply_appearance(qapp, "light")


def background_of(widget) -> QColor:
    """The colour most of the widget's drawn pixels have."""
    image = widget.grab().toImage()
    counts = Counter(image.pixel(x, y) for x in range(0, image.width(), 3)
                     for y in range(0, image.height(), 3))
    return QColor.fromRgb(counts.most_common(1)[0][0])


def text_colour(widget) -> QColor:
    widget.ensurePolished()
    return widget.palette().color(widget.foregroundRole())


def code_colours(view) -> list[tuple[str, QColor, QColor]]:
    """(text, foreground, background) of the code blocks' lines and coloured tokens, as
    they are drawn: the highlighter's colours are extra formats of each line's layout."""
    runs = []
    block = view.document().begin()
    default = view.palette().color(QPalette.ColorRole.Text)
    while block.isValid():
        block_format = block.blockFormat()
        if block_format.hasProperty(block_format.Property.BackgroundBrush):
            background = block_format.background().color()
            if block.text().strip():
                runs.append((block.text(), default, background))
            for span in block.layout().formats():
                text = block.text()[span.start:span.start + span.length]
                runs.append((text, span.format.foreground().color(), background))
            fragments = block.begin()
            while not fragments.atEnd():  # the header's label and link
                fmt = fragments.fragment().charFormat()
                if fmt.hasProperty(fmt.Property.ForegroundBrush):
                    runs.append((fragments.fragment().text(), fmt.foreground().color(), background))
                fragments += 1
        block = block.next()
    return runs


def test_every_text_in_the_chat_meets_wcag_aa_in_both_themes(qtbot, themed):
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(720, 700)
    view.add_message("user", "Write code please")
    view.add_message("assistant", ANSWER, "demo · 40 tokens · stopped")
    view.show()
    qtbot.waitExposed(view)
    for message in view.messages:
        back = background_of(message)
        for label in (message.body, message.title, message.detail, message.copy_button):
            ratio = theme.contrast_ratio(text_colour(label), back)
            assert ratio >= AA_TEXT, (themed.name, message.role, label.objectName(), ratio)
    assistant = view.messages[1].body
    runs = code_colours(assistant)
    coloured = {text for text, foreground, _ in runs
                if foreground != assistant.palette().color(QPalette.ColorRole.Text)}
    assert {"def", "return", "# add them up, \"twice\"", "2", "@cache"} <= coloured
    for text, foreground, background in runs:
        ratio = theme.contrast_ratio(foreground, background)
        assert ratio >= AA_TEXT, (themed.name, text, foreground.name(), ratio)
    # the code shading stands apart from the message behind it
    assert {background.name() for *_, background in runs} == {themed.code}


def test_notices_and_status_words_meet_wcag_aa(qtbot, themed):
    for level in ("error", "warning", "info"):
        bar = NoticeBar()
        qtbot.addWidget(bar)
        bar.resize(500, 60)
        bar.show_message("The model could not be loaded.", level)
        qtbot.waitExposed(bar)
        label = bar.findChild(QLabel)
        ratio = theme.contrast_ratio(text_colour(label), background_of(bar))
        assert ratio >= AA_TEXT, (themed.name, level, ratio)
    colours = themed
    pairs = [(colours.ok, colours.window), (colours.bad, colours.window),
             (colours.warn, colours.window), (colours.muted, colours.surface),
             (colours.link, colours.surface), (colours.role, colours.user),
             (colours.on_accent, colours.accent), (colours.code_label, colours.code),
             (colours.link, colours.code), (colours.text, colours.user)]
    for ok, back in pairs:
        assert theme.contrast_ratio(ok, back) >= AA_TEXT, (colours.name, ok, back)


def test_dark_is_dark_and_the_code_is_coloured_from_the_palette_in_use(qtbot, qapp):
    view = ChatView()
    qtbot.addWidget(view)
    view.add_message("assistant", ANSWER)
    try:
        theme.apply_appearance(qapp, "dark")
        view.restyle()
        dark = {fg.name() for _text, fg, _bg in code_colours(view.messages[0].body)}
        assert theme.DARK.syntax.keyword in dark and theme.LIGHT.syntax.keyword not in dark
        assert qapp.palette().color(QPalette.ColorRole.Base).lightnessF() < 0.3
        theme.apply_appearance(qapp, "light")
        view.restyle()
        light = {fg.name() for _text, fg, _bg in code_colours(view.messages[0].body)}
        assert theme.LIGHT.syntax.keyword in light and theme.DARK.syntax.keyword not in light
    finally:
        theme.apply_appearance(qapp, "light")


def test_following_the_system_follows_its_scheme_as_it_changes(qtbot, open_window):
    window = open_window(wait_for_model=False)
    assert window.settings["theme"] == "system"
    hints = QGuiApplication.styleHints()
    try:
        with qtbot.waitSignal(window.appearance.changed):
            hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # the desktop switched
        assert theme.current() is theme.DARK
        assert window.palette().color(QPalette.ColorRole.Window).name() == theme.DARK.window
        with qtbot.waitSignal(window.appearance.changed):
            hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert theme.current() is theme.LIGHT
        window.apply_settings({"theme": "dark"})
        with qtbot.assertNotEmitted(window.appearance.changed):
            hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)  # a choice beats the system
        assert theme.current() is theme.DARK
    finally:
        theme.apply_appearance(QApplication.instance(), "light")


def test_copy_puts_exactly_the_code_on_the_clipboard(qtbot, qapp):
    view = ChatView()
    qtbot.addWidget(view)
    view.add_message("assistant", ANSWER)
    body = view.messages[0].body
    assert [block.language for block in body.code_blocks] == ["python", "bash"]
    links = []
    block = body.document().begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fmt = fragments.fragment().charFormat()
            if fmt.isAnchor():
                links.append((fragments.fragment().text(), fmt.anchorHref()))
            fragments += 1
        block = block.next()
    assert links == [("Copy", "copy-code:0"), ("Copy", "copy-code:1")]
    body.anchorClicked.emit(body.document().baseUrl().resolved(links[1][1]))
    assert QApplication.clipboard().text() == 'echo "hi" | grep h  # done'
    body.anchorClicked.emit(body.document().baseUrl().resolved(links[0][1]))
    assert QApplication.clipboard().text() == (
        '@cache\ndef total(items: list[int]) -> int:\n    # add them up, "twice"\n'
        "    return sum(x * 2 for x in items if x > 0) or None")
    # the message's own Copy still gives the Markdown it was written in
    view.messages[0].copy_to_clipboard()
    assert QApplication.clipboard().text() == ANSWER


def test_the_copy_link_is_reached_with_the_keyboard(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    view.add_message("assistant", ANSWER)
    body = view.messages[0].body
    assert body.textInteractionFlags() & Qt.TextInteractionFlag.LinksAccessibleByKeyboard
    body.show()
    body.setFocus()
    qtbot.keyClick(body, Qt.Key.Key_Tab)  # Tab inside the text moves between its links
    cursor = body.textCursor()
    assert cursor.hasSelection() and cursor.selectedText() == "Copy"
    qtbot.keyClick(body, Qt.Key.Key_Return)
    assert QApplication.clipboard().text().startswith("@cache")


def test_raw_html_and_an_unknown_language_are_shown_as_text(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    view.add_message("assistant", "```nosuchlanguage\n<b>bold?</b>\n```\n\n<i>x</i>")
    body = view.messages[0].body
    assert "<b>bold?</b>" in body.toPlainText() and "<i>x</i>" in body.toPlainText()
    assert body.code_blocks[0].language == "nosuchlanguage"
    cursor = QTextCursor(body.document())
    cursor.setPosition(body.toPlainText().index("<b>") + 1)
    assert not cursor.charFormat().fontWeight() > 400  # not bold: the tag is text


def test_a_huge_code_block_is_shaded_but_not_coloured(qtbot):
    from strongroom.ui.chat.code_blocks import HIGHLIGHT_LIMIT

    code = "x = 1\n" * (HIGHLIGHT_LIMIT // 6 + 10)
    view = ChatView()
    qtbot.addWidget(view)
    view.add_message("assistant", f"```python\n{code}```\n")
    runs = code_colours(view.messages[0].body)
    assert not any(view.messages[0].body.document().findBlockByNumber(n).layout().formats()
                   for n in range(5))  # no colours
    assert all(bg.name() == theme.current().code for *_, bg in runs)


# -- the window -----------------------------------------------------------------------------


def test_zoom_keys_change_the_font_size_and_it_is_remembered(qtbot, open_window, workspace):
    window = open_window(wait_for_model=False)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    start = QApplication.font().pointSize()
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    bigger = QApplication.font().pointSize()
    assert bigger > start and workspace.settings["font_size"] == bigger
    assert window.input.font().pointSize() == bigger
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.font().pointSize() < start
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.font().pointSize() == start and workspace.settings["font_size"] == 0


def test_choosing_dark_in_settings_turns_the_window_dark(qtbot, open_window):
    window = open_window(wait_for_model=False)
    try:
        window.apply_settings({"theme": "dark"})
        assert theme.current() is theme.DARK
        assert window.palette().color(QPalette.ColorRole.Window).name() == theme.DARK.window
        assert window.input.palette().color(QPalette.ColorRole.Base).name() == theme.DARK.surface
    finally:
        theme.apply_appearance(QApplication.instance(), "light")


def test_the_sidebar_folds_away_and_search_brings_it_back(qtbot, open_window):
    window = open_window(wait_for_model=False)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    width = window.pane.width()
    window.conversations.search_box.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert not window.conversations.isVisible() and not window.sidebar_action.isChecked()
    assert window.input.hasFocus()  # focus does not stay on a hidden field
    qtbot.waitUntil(lambda: window.pane.width() > width)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.conversations.isVisible() and window.conversations.search_box.hasFocus()


# 1280×720, and the same screen at 1.5 and 2.0 scale (853×480 and 640×360 logical)
@pytest.mark.parametrize("size", [(1280, 720), (853, 480), (640, 360)])
def test_the_message_box_and_status_bar_fit_small_screens(qtbot, open_window, size):
    window = open_window(wait_for_model=False)
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().height() <= size[1])
    assert window.height() <= size[1] and window.width() <= size[0]
    box = window.input.mapTo(window, window.input.rect().bottomRight())
    assert window.rect().contains(box)
    assert window.input.height() >= 2 * window.input.fontMetrics().lineSpacing()
    assert window.send_button.isVisible() and window.rect().contains(
        window.send_button.mapTo(window, window.send_button.rect().bottomRight()))
    status = window.status.mapTo(window, window.status.rect().bottomLeft())
    assert window.rect().contains(status)


def test_a_long_code_block_is_coloured_a_slice_at_a_time_and_remembered(qtbot):
    from strongroom.ui.chat import code_blocks

    line = "    total = compute(items, key=lambda x: x * 2)  # running sum {}\n"
    code = "def f(items):\n" + "".join(line.format(i) for i in range(200))
    view = ChatView()
    qtbot.addWidget(view)
    view.add_message("assistant", f"```python\n{code}```\n")
    body = view.messages[0].body
    assert body.highlighter.busy  # too long to colour at once: it goes on between events
    qtbot.waitUntil(lambda: not body.highlighter.busy)
    last = body.code_blocks[0].first_block + 200
    assert [body.document().findBlockByNumber(last).text()[s.start:s.start + s.length]
            for s in body.document().findBlockByNumber(last).layout().formats()] == [
        "lambda", "2", "# running sum 199"]
    again = ChatView()
    qtbot.addWidget(again)
    again.add_message("assistant", f"```python\n{code}```\n")
    assert not again.messages[0].body.highlighter.busy  # coloured before: at once
    assert code_blocks.SLICE_S <= 0.005


def test_a_streamed_answer_shows_the_same_as_the_stored_one(qtbot):
    """Streamed, settled blocks are appended as they come and long code settles in pieces
    (so no frame re-renders the whole answer); the result reads as one rendering would."""
    code = "".join(f"value_{i} = compute({i})  # step {i}\n" for i in range(40))
    text = (f"Intro with **bold**.\n\n```python\n{code}```\n\n- one\n- two\n\n"
            f"```bash\necho done\n```\n\nThe end.\n")
    view = ChatView()
    qtbot.addWidget(view)
    streamed = view.add_message("assistant", "")
    for start in range(0, len(text), 5):
        streamed.append(text[start:start + 5])
    streamed.set_text(text)
    stored = view.add_message("assistant", text)
    assert streamed.body.toPlainText() == stored.body.toPlainText()
    assert streamed.body.code_blocks == stored.body.code_blocks  # one block each, whole
    assert [b.text.count("\n") for b in streamed.body.code_blocks] == [39, 0]
    assert not streamed.tail.isVisible()
