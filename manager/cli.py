"""The `ampshare` command: serve, demo, set-password, backup, restore, install-service."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import getpass
import logging
import os
import sys
import tempfile
from pathlib import Path

from manager.store import CorruptDataError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ampshare", description="Local load management for EV charging."
    )
    from manager.version import VERSION

    parser.add_argument("--version", action="version", version=f"ampshare {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the manager")
    serve.add_argument(
        "--data", type=Path, help="data directory (default: ~/.local/share/ampshare)"
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--http-port", type=int, default=8080, help="web port (default 8080)")
    serve.add_argument("--ocpp-port", type=int, help="OCPP server port (default: settings, 19520)")

    demo = sub.add_parser("demo", help="run the manager on a simulated site")
    demo.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    demo.add_argument("--http-port", type=int, default=8080, help="web port (default 8080)")
    demo.add_argument("--ocpp-port", type=int, default=19520, help="OCPP port (default 19520)")

    pw = sub.add_parser("set-password", help="set the admin password")
    pw.add_argument("--data", type=Path, help="data directory (default: ~/.local/share/ampshare)")
    _operations_parsers(sub)
    return parser


def _operations_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data_help = "data directory (default: ~/.local/share/ampshare)"
    bk = sub.add_parser(
        "backup", help="write the whole data directory (secrets included) to one archive"
    )
    bk.add_argument("--data", type=Path, help=data_help)
    bk.add_argument("file", type=Path, help="archive to write (.tar.gz)")
    rs = sub.add_parser("restore", help="check an archive, then replace the data with it")
    rs.add_argument("--data", type=Path, help=data_help)
    rs.add_argument("file", type=Path, help="archive written by `ampshare backup`")
    svc = sub.add_parser("install-service", help="install and start a systemd service (root)")
    svc.add_argument("--user", default="ampshare", help="user the service runs as (ampshare)")
    svc.add_argument(
        "--data", type=Path, default=Path("/var/lib/ampshare/data"), help="data directory"
    )
    svc.add_argument("--host", default="0.0.0.0", help="address to listen on (0.0.0.0)")
    svc.add_argument("--http-port", type=int, default=8080, help="web port (8080)")
    svc.add_argument("--ocpp-port", type=int, help="OCPP port (default: settings, 19520)")
    svc.add_argument(
        "--unit-dir", type=Path, default=Path("/etc/systemd/system"), help="where the unit goes"
    )
    svc.add_argument("--print", action="store_true", help="only print the unit")
    svc.add_argument("--no-start", action="store_true", help="enable, but do not start it now")


def _return_big_blocks_to_os() -> None:
    """Keep glibc from holding on to the 16 MB each scrypt password check allocates.

    glibc raises its mmap threshold after freeing a large block, so later large blocks come
    from the heap and stay resident: +16 MB RSS for good on a small always-on machine.
    A fixed threshold keeps them on mmap, which goes back to the system when freed.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_mmap_threshold = -3
    libc.mallopt(m_mmap_threshold, 1 << 20)


def _port(value: int | None, name: str) -> None:
    if value is not None and not 1 <= value <= 65535:
        raise SystemExit(f"ampshare: {name} must be between 1 and 65535")


def _env_password_ok(password: str | None) -> None:
    """A weak password in the environment stops the start with a sentence, not a traceback."""
    from manager.app import ADMIN_ENV
    from manager.auth import check_new_password

    if password:
        try:
            check_new_password(password)
        except ValueError as exc:
            raise SystemExit(f"ampshare: {ADMIN_ENV}: {exc}. Not starting.") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _return_big_blocks_to_os()
    logging.basicConfig(
        level=os.environ.get("AMPSHARE_LOG", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    from manager import app  # imported here so `ampshare --help` stays fast

    try:
        if args.command == "set-password":
            return _set_password(args.data or app.default_data_dir())
        if args.command in ("backup", "restore", "install-service"):
            from manager import operations_cli

            return operations_cli.run(args, app.default_data_dir(), app.check_data)
        _port(args.http_port, "--http-port")
        _port(args.ocpp_port, "--ocpp-port")
        _env_password_ok(os.environ.get(app.ADMIN_ENV))
        if args.command == "demo":
            password = os.environ.get(app.ADMIN_ENV) or "demo"
            with tempfile.TemporaryDirectory(prefix="ampshare-demo-") as tmp:
                print(
                    f"ampshare demo: http://{args.host}:{args.http_port}/  "
                    f"login admin / {password}  OCPP ws://{args.host}:{args.ocpp_port}/<ChargeBoxId>\n"
                    f"ampshare demo: its data is temporary ({tmp}): everything you change is "
                    "deleted when the demo stops. Use `ampshare serve` to keep it.",
                    flush=True,
                )
                opts = app.Options(
                    data_dir=Path(tmp),
                    host=args.host,
                    http_port=args.http_port,
                    ocpp_port=args.ocpp_port,
                    demo=True,
                    admin_password=password,
                )
                asyncio.run(app.run(opts))
            return 0
        opts = app.Options(
            data_dir=args.data or app.default_data_dir(),
            host=args.host,
            http_port=args.http_port,
            ocpp_port=args.ocpp_port,
            admin_password=os.environ.get(app.ADMIN_ENV),
        )
        asyncio.run(app.run(opts))
        return 0
    except CorruptDataError as exc:
        print(f"ampshare: {exc}. Not starting; nothing was changed.", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ampshare: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _set_password(data_dir: Path) -> int:
    from manager.auth import check_new_password, hash_password
    from manager.configstore import ConfigStore

    store = ConfigStore(data_dir)
    try:
        if sys.stdin.isatty():
            first = getpass.getpass("New admin password: ")
            if first != getpass.getpass("Repeat it: "):
                print("ampshare: the two passwords differ; nothing changed", file=sys.stderr)
                return 1
        else:
            first = sys.stdin.readline().rstrip("\n")
        check_new_password(first)
        store.set_admin_hash(hash_password(first))
        print(f"ampshare: admin password set in {store.path}")
        return 0
    except ValueError as exc:
        print(f"ampshare: password not set: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


if __name__ == "__main__":
    raise SystemExit(main())
