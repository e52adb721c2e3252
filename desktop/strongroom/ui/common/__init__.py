"""What every part of the window uses: the look (theme, resources), running work off the GUI thread, the engine's thread, the dialog that shows a key to keep, the notice bar, one window per user."""
