"""The ``whatsapp`` connection kind, on neonize (whatsmeow): ``channel`` is the connection's state
machine and thread, ``inbound`` decodes neonize's events into zing's messages and receipts,
``outbound`` builds and sends messages, ``store`` keeps the sidecar of sent ids beside the
session, ``lib`` loads the Go library and makes JIDs. Import ``channel`` only when a number of this
kind starts: it loads the Go library."""
