"""``python -m fakestripe``: run the patched localstripe on 127.0.0.1.

Prints exactly one line, ``FAKESTRIPE_URL=http://127.0.0.1:<port>``, on stdout once the socket
accepts connections; everything else goes to stderr. SIGTERM / SIGINT write the state and exit.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise SystemExit(f"fakestripe: --host must be a loopback address, not {host!r}") from None
    if not address.is_loopback:
        raise SystemExit(
            f"fakestripe: refusing to bind {host}: only loopback addresses "
            "(127.0.0.1, ::1) are allowed"
        )
    return host


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fakestripe",
        description="Offline Stripe stand-in (patched localstripe)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 = a free one (default)")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="directory for the state pickle (default: a fresh temp dir, removed "
        "at exit); reloaded at start when present",
    )
    parser.add_argument(
        "--from-scratch", action="store_true", help="ignore the state already in --state-dir"
    )
    parser.add_argument(
        "--webhook-delay",
        type=float,
        default=None,
        help="seconds between a change and its webhook (default 0.1)",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="exit when this process is gone (the launcher passes its own pid: no orphans)",
    )
    parser.add_argument(
        "--public-url",
        default=None,
        help="where a browser reaches the stand-in's /_stripe/ pages (e.g. the app's dev proxy, "
        "http://127.0.0.1:8000/_dev): the base of hosted_invoice_url, invoice_pdf and portal "
        "URLs (default: $FAKESTRIPE_PUBLIC_URL, else the stand-in's own URL)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="access log on stderr")
    return parser.parse_args(argv)


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if os.getppid() != parent_pid:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                stop.set()
                return
            except PermissionError:
                pass
        await asyncio.sleep(0.5)


async def _serve(sock: socket.socket, url: str, verbose: bool, parent_pid: int | None) -> None:
    from aiohttp import web

    from .app import build_app

    app = build_app()
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access") if verbose else None,
        handle_signals=False,
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    sys.stdout.write(f"FAKESTRIPE_URL={url}\n")
    sys.stdout.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.ensure_future(_watch_parent(parent_pid, stop)) if parent_pid else None
    await stop.wait()
    if watcher is not None:
        watcher.cancel()
    await runner.cleanup()


def main(argv=None) -> int:
    args = parse_args(argv)
    host = _loopback(args.host)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="fakestripe %(levelname)s %(name)s: %(message)s",
    )
    if args.webhook_delay is not None:
        os.environ["FAKESTRIPE_WEBHOOK_DELAY"] = str(args.webhook_delay)

    own_dir = args.state_dir is None
    state_dir = args.state_dir or tempfile.mkdtemp(prefix="fakestripe-")

    from localstripe import resources

    from . import hosted, state
    from .patches import apply_all
    from .patches.events import dispatcher

    state.configure(state_dir)
    apply_all()
    if not args.from_scratch:
        resources.store.try_load_from_disk()
        dispatcher.load()

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, args.port))
    sock.listen(128)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    url = f"http://[{host}]:{port}" if family == socket.AF_INET6 else f"http://{host}:{port}"
    try:
        hosted.configure(own_url=url, public_url=args.public_url or os.environ.get(hosted.ENV_VAR))
    except ValueError as e:
        sock.close()
        raise SystemExit(f"fakestripe: --public-url: {e}") from None
    try:
        asyncio.run(_serve(sock, url, args.verbose, args.parent_pid))
    finally:
        state.flush()
        if own_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0
