"""The conversation: messages and their actions, the message box, the list of conversations, and asking for answers."""
