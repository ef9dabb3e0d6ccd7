"""An HTTP server on 127.0.0.1 serving a folder laid out like the SEC's archive.

``GET /Archives/edgar/full-index/2020/QTR1/master.idx`` and ``GET /Archives/edgar/data/<cik>/
<accession>.txt`` answer the files under ``root`` (``root/edgar/...``). Every request is
recorded (monotonic time, path, User-Agent) so tests can measure the request rate; ``fail_next``
makes the next requests answer 429 or 503 (EDGAR's throttling answers), ``fail_path`` those
for one document. HTTP/1.1 with keep-alive, as the SEC's servers.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PREFIX = "/Archives/"


@dataclass(frozen=True)
class Request:
    at: float  # time.time() when the request arrived (comparable across processes)
    path: str
    user_agent: str
    status: int


class EdgarServer:
    """The stand-in: ``with EdgarServer(root) as edgar: edgar.base_url`` ends in ``/Archives``."""

    def __init__(self, root: Path, *, port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.requests: list[Request] = []
        self._failures: list[int] = []
        self._path_failures: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return self.url + PREFIX.rstrip("/")

    def start(self) -> EdgarServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> EdgarServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (429 or 503) and a Retry-After."""
        with self._lock:
            self._failures.extend([status] * times)

    def fail_path(self, suffix: str, status: int, times: int = 1) -> None:
        """Answer the next ``times`` requests for a path ending in ``suffix`` with ``status``."""
        with self._lock:
            self._path_failures.setdefault(suffix, []).extend([status] * times)

    def filing_requests(self) -> list[Request]:
        """The requests for filings (not the index) that were answered 200."""
        with self._lock:
            return [r for r in self.requests if "/data/" in r.path and r.status == 200]

    def _answer(self, path: str, user_agent: str) -> tuple[int, bytes]:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
            for suffix, statuses in self._path_failures.items():
                if failure is None and statuses and path.endswith(suffix):
                    failure = statuses.pop(0)
        if failure is not None:
            status, body = failure, b"Request Rate Threshold Exceeded"
        else:
            status, body = self._read(path)
        with self._lock:
            self.requests.append(Request(time.time(), path, user_agent, status))
        return status, body

    def _read(self, path: str) -> tuple[int, bytes]:
        if not path.startswith(PREFIX):
            return 404, b"Not Found"
        target = (self.root / path[len(PREFIX) :]).resolve()
        # Never serve outside the folder (../ in the path).
        if not target.is_relative_to(self.root) or not target.is_file():
            return 404, b"Not Found"
        return 200, target.read_bytes()


def _handler(server: EdgarServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as the SEC's servers: a worker's requests reuse one connection. Then
        # the headers and the body are two writes, and with Nagle's algorithm on the body
        # waited for the client's delayed ACK of the headers: 40 ms per request.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            status, body = server._answer(
                self.path.split("?", 1)[0], self.headers.get("User-Agent", "")
            )
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            if status in (429, 503):
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # requests are recorded in server.requests instead

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a folder as EDGAR's archive.")
    parser.add_argument("root", type=Path, help="folder holding edgar/full-index and edgar/data")
    parser.add_argument("--port", type=int, default=8900)
    args = parser.parse_args()
    with EdgarServer(args.root, port=args.port) as edgar:
        print(f"EDGAR stand-in on {edgar.base_url} serving {edgar.root}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
