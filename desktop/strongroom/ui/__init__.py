"""PySide6 widgets, models and workers: thin views over strongroom.core."""
