"""The queue area, left of the main screen: which tickets there are (tabs, filter line, list) and how they load."""
