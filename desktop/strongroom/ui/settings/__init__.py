"""Settings: the dialog, its Servers page, and the appearance they choose."""
