"""The console's screens: splash and login, the main queue screen, and its modal panels."""
