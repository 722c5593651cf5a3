"""An S3 server for tests: moto's standalone server in a subprocess on 127.0.0.1, and a
fault-injecting HTTP proxy in front of it. boto3 itself is never patched.

Fault kinds (``Fault.kind``), applied to the next ``times`` requests of one S3 operation:

- ``500``: answer 500 InternalError; the request never reaches the server
- ``503``: answer 503 SlowDown; the request never reaches the server
- ``reset``: reset the connection (RST) instead of forwarding
- ``lost``: forward (the server applies it), then reset instead of answering
- ``500-after``: forward (applied), then answer 500 InternalError
- ``truncate``: forward, send the headers and half the body, then close the connection
- ``delay``: wait ``delay_s`` (past the client's read timeout), then forward
- ``corrupt``: flip one byte of the request body, then forward
"""

from __future__ import annotations

import http.client
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"
_HOP = {"connection", "keep-alive", "expect", "transfer-encoding", "content-length",
        "proxy-connection", "te", "trailer", "upgrade"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """``python -m moto.server`` on a free loopback port, for the life of a ``with`` block."""

    def __init__(self, *, start_timeout_s: float = 30.0) -> None:
        self.port = _free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._timeout = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited with status {self._proc.returncode}")
            try:
                conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=1)
                conn.request("GET", "/moto-api/")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.1)
        self._stop()
        raise RuntimeError(f"moto server did not answer on {self.url} in {self._timeout} s")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)


@dataclass
class Fault:
    op: str  # S3 operation, e.g. "PutObject", "UploadPart", "CompleteMultipartUpload"
    kind: str  # see the module docstring
    times: int = 1


@dataclass(frozen=True)
class Seen:
    op: str
    method: str
    path: str
    fault: str | None


def operation(method: str, path: str, query: str) -> str:
    """The S3 operation of a path-style request."""
    q = parse_qs(query, keep_blank_values=True)
    on_object = len([s for s in path.split("/") if s]) >= 2
    if "uploads" in q:
        return "CreateMultipartUpload" if method == "POST" else "ListMultipartUploads"
    if "uploadId" in q:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload",
                "DELETE": "AbortMultipartUpload", "GET": "ListParts"}.get(method, method)
    if not on_object:
        return {"PUT": "CreateBucket", "GET": "ListObjects", "HEAD": "HeadBucket",
                "DELETE": "DeleteBucket"}.get(method, method)
    return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject",
            "DELETE": "DeleteObject"}.get(method, method)


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that forwards to ``upstream`` and injects faults."""

    def __init__(self, upstream: str, *, delay_s: float = 3.0) -> None:
        split = urlsplit(upstream)
        self.upstream = (split.hostname or LOOPBACK, split.port or 80)
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._seen: list[Seen] = []
        self._server = _ProxyServer((LOOPBACK, 0), _Handler, self)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def inject(self, *faults: Fault) -> None:
        """Replace the fault schedule and forget the requests seen so far."""
        with self._lock:
            self._faults = [replace(f) for f in faults]  # callers' faults stay unspent
            self._seen = []

    def seen(self, *ops: str) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if not ops or s.op in ops]

    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.times > 0]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _take(self, op: str, method: str, path: str) -> str | None:
        with self._lock:
            fault = next((f for f in self._faults if f.op == op and f.times > 0), None)
            if fault is not None:
                fault.times -= 1
            self._seen.append(Seen(op, method, path, fault.kind if fault else None))
            return fault.kind if fault else None


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # resets and clients that gave up are the point here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _relay(self) -> None:
        body = self._body()
        split = urlsplit(self.path)
        proxy = self.server.proxy
        fault = proxy._take(operation(self.command, split.path, split.query), self.command,
                            split.path)
        if fault in ("500", "503"):
            self._error(int(fault))
            return
        if fault == "reset":
            self._reset()
            return
        if fault == "delay":
            time.sleep(proxy.delay_s)
        if fault == "corrupt" and body:
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        status, headers, data = self._forward(body)
        if fault == "lost":
            self._reset()
            return
        if fault == "500-after":
            self._error(500)
            return
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault == "truncate":
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.server.proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            out = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            out.append(("Content-Length", length or str(len(data))))
            return response.status, out, data
        finally:
            conn.close()

    def _error(self, status: int) -> None:
        code, message = (("SlowDown", "Please reduce your request rate.") if status == 503
                         else ("InternalError", "We encountered an internal error."))
        data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error>").encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _reset(self) -> None:
        """Close with RST: the client sees 'connection reset by peer'."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
