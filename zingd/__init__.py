"""zing daemon: the only process that opens the database or a WhatsApp session."""

__version__ = "0.1.0"
API_VERSION = 1
