"""SQLite storage: connection setup, migrations, and one module per aggregate."""
