"""``zingd``: parse flags, load settings, run the daemon until SIGINT/SIGTERM.

Everything zingd creates is private to its user from the first byte (umask 077): the
database and its WAL, media, sessions, backups. A start that fails prints one line and
exits non-zero (the parts already started are stopped first).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from zingd import __version__, config, logs
from zingd.logs import FORMATS
from zingd.paths import default_config_path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zingd", description="zing daemon: WhatsApp helpdesk core")
    p.add_argument("--config", type=Path, help=f"TOML settings (default {default_config_path()})")
    p.add_argument("--socket", help="Unix socket path (env ZING_SOCKET)")
    p.add_argument("--data-dir", help="database, media and sessions (env ZING_DATA_DIR)")
    p.add_argument("--demo", action="store_true", help="seed a demo company with simulated customers")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (env ZING_LOG_LEVEL)")
    p.add_argument("--log-format", choices=FORMATS,
                   help="text (key=value, the default) or json (one object per line) (env ZING_LOG_FORMAT)")
    p.add_argument("--restore", type=Path, metavar="BACKUP",
                   help="replace the database with a backup (zingctl backup) and exit; zingd must be stopped")
    p.add_argument("--version", action="version", version=f"zingd {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.umask(0o077)
    overrides: dict = {"socket": args.socket, "data_dir": args.data_dir, "log_level": args.log_level,
                       "log_format": args.log_format}
    if args.demo:
        overrides["demo"] = True
        if "ZING_SIM__RANDOM_CUSTOMERS" not in os.environ:  # the demo has customers writing in
            overrides["sim"] = {"random_customers": True}
    try:
        settings = config.load(args.config or default_config_path(), overrides)
        logs.setup(settings.log_level, settings.log_format)
    except ValueError as e:
        print(f"zingd: {e}", file=sys.stderr)
        return 2
    from zingd.app import Daemon, StartFailed

    if args.restore is not None:
        return _restore(Daemon(settings), args.restore)

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    daemon = Daemon(settings)
    try:
        runner(daemon.run())
    except StartFailed as e:
        logging.getLogger("zingd").critical("%s", e)
        return 1
    except KeyboardInterrupt:
        pass
    return daemon.exit_code


def _restore(daemon, source: Path) -> int:
    from zingd.app import DataDirLocked
    from zingd.backup import restore

    try:
        daemon.lock()
    except DataDirLocked as e:
        print(f"zingd: {e}; stop it before restoring", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"zingd: cannot use the data dir {daemon.settings.data_path}: {e.strerror}", file=sys.stderr)
        return 1
    try:
        kept = restore(source, daemon.settings.db_path)
    except (OSError, ValueError) as e:
        print(f"zingd: restore failed: {e}", file=sys.stderr)
        return 1
    print(f"restored {source} into {daemon.settings.db_path}" + (f" (previous kept at {kept})" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
