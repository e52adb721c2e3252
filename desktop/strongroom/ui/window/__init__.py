"""The main window, which composes the areas: its layout, menus, status bar, dialogs and the keys shown at first start."""
