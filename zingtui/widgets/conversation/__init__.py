"""The conversation area, right of the main screen: the open ticket's title, messages and notes, and the composer."""
