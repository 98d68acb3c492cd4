"""A loopback TCP relay in front of the test server that can cut the network for real.

Chromium's offline emulation (`context.set_offline`) reaches a service worker's requests a moment
after the page's, so a request can slip through it. A test that must prove "no signal" puts this
relay between the browser and the server: `cut()` stops listening and drops every open
connection (the browser sees connection refused, as on a phone with no signal), `restore()`
listens again on the same port, so the origin (and with it the service worker and IndexedDB)
stays the same. It counts what crosses it (bytes each way, connections) for the benchmarks.
"""

from __future__ import annotations

import socket
import threading


class NetCut:
    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.down = 0  # bytes, server to browser
        self.up = 0  # bytes, browser to server
        self.connections = 0
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, set()
        if listener:
            # shutdown() first: close() alone leaves the socket listening while accept() blocks
            # on it in the other thread.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._conns.update((client, server))
                self.connections += 1
            for a, b, down in ((client, server, False), (server, client, True)):
                threading.Thread(target=self._pump, args=(a, b, down), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                with self._lock:
                    if downstream:
                        self.down += len(data)
                    else:
                        self.up += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)


def offline(context, net: NetCut) -> None:
    """No signal for the page and its service worker: Chromium's emulation and the relay cut."""
    context.set_offline(True)
    net.cut()


def online(context, net: NetCut) -> None:
    net.restore()
    context.set_offline(False)
