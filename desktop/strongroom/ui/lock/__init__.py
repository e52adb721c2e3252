"""The idle lock and the conversations that will not open: the lock screen and the ways back in."""
