"""The look: Light and Dark palettes, chosen by the user or following the system.

Every colour the app draws comes from one `Palette`: the Qt palette the widgets use, the
style sheet (`resources/strongroom.qss`, a template of ``$name`` fields), the chat's code
highlighting, and the few coloured words other screens write. `apply_appearance` switches
all of them at once; `contrast_ratio` is the WCAG 2 formula the tests hold them to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from string import Template

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette

from strongroom.ui.common.resources import resource

THEMES = ("system", "light", "dark")
ZOOM_STEPS = (8, 9, 10, 11, 12, 13, 14, 16, 18, 20, 22, 24, 28, 32)  # point sizes


@dataclass(frozen=True)
class Syntax:
    """Colours of code tokens, by Pygments token family."""

    keyword: str
    string: str
    comment: str
    number: str
    function: str
    type: str
    builtin: str
    decorator: str
    error: str


@dataclass(frozen=True)
class Palette:
    name: str
    window: str  # behind everything
    surface: str  # fields, lists, answers
    text: str
    muted: str  # secondary text (details, hints)
    border: str
    accent: str  # selection, and the default button
    on_accent: str
    focus: str  # the ring around what has the keyboard
    link: str
    role: str  # "You" / "Assistant"
    chat: str  # behind the messages
    user: str
    user_border: str
    assistant: str
    assistant_border: str
    code: str
    code_border: str
    code_label: str
    ok: str
    ok_back: str
    warn: str
    warn_back: str
    bad: str
    bad_back: str
    info: str
    info_back: str
    syntax: Syntax = field(repr=False)


LIGHT = Palette(
    name="light", window="#f3f4f7", surface="#ffffff", text="#1a1c20", muted="#545c68",
    border="#c9ced6", accent="#2359a8", on_accent="#ffffff", focus="#b3590a", link="#1a55a0", role="#1f3b63",
    chat="#f6f7f9", user="#eaf1fb", user_border="#c2d3ec", assistant="#ffffff",
    assistant_border="#d9dce1", code="#eef0f4", code_border="#d3d8df", code_label="#4a525e",
    ok="#1b5e2e", ok_back="#e3f4e8", warn="#6b4500", warn_back="#fbefd5",
    bad="#8c1d18", bad_back="#fdecea", info="#17406b", info_back="#e6f0fb",
    syntax=Syntax(keyword="#7a2e9a", string="#1d6a2c", comment="#5c6470", number="#9a4600",
                  function="#1c4f99", type="#8a3b00", builtin="#0d6670", decorator="#7a5200",
                  error="#b3261e"),
)

DARK = Palette(
    name="dark", window="#1c1f24", surface="#24282e", text="#e6e8eb", muted="#a9b1bd",
    border="#454c57", accent="#3b6cb4", on_accent="#ffffff", focus="#ffb15c", link="#8cbcff", role="#a8c8ff",
    chat="#191c20", user="#243247", user_border="#37506f", assistant="#24282e",
    assistant_border="#3b414b", code="#15181c", code_border="#343a43", code_label="#b3bbc6",
    ok="#8fe0a5", ok_back="#1b3022", warn="#f2cf85", warn_back="#372c15",
    bad="#ffb4ab", bad_back="#3d1d1b", info="#b9d4f5", info_back="#1b2b40",
    syntax=Syntax(keyword="#d7a6ff", string="#a5d6a7", comment="#a0a8b3", number="#f8b886",
                  function="#8cc4ff", type="#ffd580", builtin="#7fd6d6", decorator="#e6c07b",
                  error="#ff8a80"),
)

_current: Palette = LIGHT


def current() -> Palette:
    """The palette in use now (Light until `apply_appearance` chose one)."""
    return _current


_desktop_is_dark: bool | None = None  # the desktop's palette, before ours replaced it


def system_prefers_dark(scheme: Qt.ColorScheme | None = None) -> bool:
    """What the desktop asks for (``scheme``, or the one it reports now); when it does not
    say, whether its own palette was dark."""
    if scheme is None:
        scheme = QGuiApplication.styleHints().colorScheme()
    if scheme != Qt.ColorScheme.Unknown:
        return scheme == Qt.ColorScheme.Dark
    if _desktop_is_dark is None:
        return _is_dark(QGuiApplication.palette())
    return _desktop_is_dark


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def palette_for(theme: str, scheme: Qt.ColorScheme | None = None) -> Palette:
    """The palette of ``theme``; for "system", of the desktop's ``scheme`` (or current one)."""
    if theme == "dark" or (theme == "system" and system_prefers_dark(scheme)):
        return DARK
    return LIGHT


def qt_palette(colours: Palette) -> QPalette:
    """The palette Qt's own widgets (Fusion) draw with."""
    roles = QPalette.ColorRole
    palette = QPalette()
    for role, colour in (
        (roles.Window, colours.window), (roles.WindowText, colours.text),
        (roles.Base, colours.surface), (roles.AlternateBase, colours.chat),
        (roles.Text, colours.text), (roles.Button, colours.surface),
        (roles.ButtonText, colours.text), (roles.BrightText, colours.bad),
        (roles.Highlight, colours.accent), (roles.HighlightedText, colours.on_accent),
        (roles.ToolTipBase, colours.surface), (roles.ToolTipText, colours.text),
        (roles.PlaceholderText, colours.muted), (roles.Link, colours.link),
        (roles.LinkVisited, colours.link), (roles.Light, colours.surface),
        (roles.Midlight, colours.border), (roles.Mid, colours.border),
        (roles.Dark, colours.border), (roles.Shadow, colours.window),
    ):
        palette.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colours.muted))
    return palette


def style_sheet(colours: Palette) -> str:
    """The style sheet with this palette's colours filled in ('' without the resource)."""
    template = resource("strongroom.qss")
    if template is None:
        return ""
    fields = {k: v for k, v in asdict(colours).items() if isinstance(v, str)}
    return Template(template.read_text(encoding="utf-8")).safe_substitute(fields)


_desktop_point_size: int | None = None  # the application's font size before any change


def default_point_size() -> int:
    """The desktop's own font size (what font size 0 means)."""
    return _desktop_point_size or QGuiApplication.font().pointSize()


def apply_appearance(app, theme: str, font_size: int = 0,
                     scheme: Qt.ColorScheme | None = None) -> Palette:
    """Use ``theme`` ("system", "light" or "dark") and ``font_size`` points (0: the
    desktop's size) everywhere in ``app``; returns the palette now in use. ``scheme``: the
    desktop's colour scheme when it has just changed."""
    global _current, _desktop_point_size, _desktop_is_dark
    if _desktop_point_size is None:
        _desktop_point_size = app.font().pointSize()
        _desktop_is_dark = _is_dark(app.palette())
    colours = palette_for(theme, scheme)
    _current = colours
    app.setPalette(qt_palette(colours))
    font = QFont(app.font())
    font.setPointSize(readable_size(font_size or _desktop_point_size))
    app.setFont(font)
    app.setStyleSheet(style_sheet(colours))
    return colours


def readable_size(size: int) -> int:
    """``size`` points within 8 to 32: a smaller or larger size (a settings file edited by
    hand, or an odd desktop default) would make the window unreadable, and is never used."""
    return min(max(size, ZOOM_STEPS[0]), ZOOM_STEPS[-1])


def zoomed(size: int, step: int) -> int:
    """The font size one zoom ``step`` (+1 or -1) from ``size`` points."""
    if step > 0:
        return next((s for s in ZOOM_STEPS if s > size), ZOOM_STEPS[-1])
    return next((s for s in reversed(ZOOM_STEPS) if s < size), ZOOM_STEPS[0])


def contrast_ratio(foreground: QColor | str, background: QColor | str) -> float:
    """WCAG 2 contrast ratio between two opaque colours (1 to 21; AA text needs 4.5)."""

    def luminance(colour: QColor | str) -> float:
        colour = QColor(colour)

        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

        return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
                + 0.0722 * channel(colour.blueF()))

    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
