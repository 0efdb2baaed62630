"""The operations subcommands of `ampshare`: backup, restore, install-service."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from manager import backup, systemd
from manager.files import atomic_write
from manager.store import CorruptDataError


def run(
    args: argparse.Namespace, default_data: Path, check: Callable[[Path], None] | None = None
) -> int:
    """`check` reads a staged restore as start-up will (manager.app.check_data)."""
    if args.command == "install-service":
        return _install_service(args)
    data_dir = Path(args.data or default_data)
    if args.command == "backup":
        return _backup(data_dir, args.file)
    return _restore(data_dir, args.file, check)


def _backup(data_dir: Path, target: Path) -> int:
    try:
        archive = backup.create(data_dir)
    except (backup.BadArchive, OSError) as exc:
        print(f"ampshare: no backup written: {exc}", file=sys.stderr)
        return 1
    target = target.absolute()
    atomic_write(target, archive, 0o600)
    print(
        f"ampshare: backup of {data_dir} written to {target} ({len(archive) // 1024} KB). "
        "It holds passwords and keys: keep it as safe as the data directory."
    )
    return 0


def _restore(data_dir: Path, source: Path, check: Callable[[Path], None] | None) -> int:
    try:
        archive = source.read_bytes()
    except OSError as exc:
        print(f"ampshare: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        with backup.DataLock(data_dir):
            kept = backup.switch(_staged(archive, data_dir, check), data_dir)
    except backup.BadArchive as exc:
        print(f"ampshare: not restored, nothing changed: {exc}", file=sys.stderr)
        return 2
    except backup.InUse as exc:
        print(f"ampshare: not restored: {exc} (or restore in the web UI)", file=sys.stderr)
        return 1
    where = f"; the previous data is in {kept}" if kept else ""
    print(f"ampshare: {data_dir} restored from {source}{where}")
    return 0


def _staged(archive: bytes, data_dir: Path, check: Callable[[Path], None] | None) -> Path:
    staged = backup.stage(archive, data_dir)
    try:
        if check is not None:
            check(staged)
    except CorruptDataError as exc:
        backup.discard(staged)
        raise backup.BadArchive(str(exc)) from None
    return staged


def _install_service(args: argparse.Namespace) -> int:
    opts = systemd.UnitOptions(
        user=args.user,
        data_dir=args.data,
        host=args.host,
        http_port=args.http_port,
        ocpp_port=args.ocpp_port,
    )
    if args.print:
        print(systemd.unit_text(opts), end="")
        return 0
    try:
        done = systemd.install(opts, args.unit_dir, start=not args.no_start)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"ampshare: service not installed: {exc}", file=sys.stderr)
        return 1
    print("ampshare: " + "; ".join(done))
    print("ampshare: the first start prints the admin password: journalctl -u ampshare")
    return 0
