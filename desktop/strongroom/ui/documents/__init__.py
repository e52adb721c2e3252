"""Documents answers draw on: libraries, reading them, the library chosen for a conversation, and opening a cited passage."""
