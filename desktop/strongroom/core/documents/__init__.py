"""Libraries of the user's documents: their text, read apart from the app, indexed in the
encrypted conversations database, and searched for the passages an answer cites."""
