"""Conversations: stored on disk, exported, and the chat session that both the window and
`strongroom chat` drive."""
