"""Models: importing from a drive, the model list, the servers' models, and managing versions."""
