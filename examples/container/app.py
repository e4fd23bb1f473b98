#!/usr/bin/env python3
"""app.py - the example application of examples/container: an HTTP server on
$PORT that tells supd it is ready (READY=1 on $NOTIFY_SOCKET, as sd_notify
does) once it listens, and exits cleanly on SIGTERM."""
import http.server
import os
import signal
import socket
import sys


def notify(message):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]  # an abstract socket, as supd's is
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        s.send(message.encode())


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello from supd's example\n")


def main():
    server = http.server.HTTPServer(("", int(os.environ.get("PORT", "8080"))), Hello)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("app: listening on port", server.server_port)
    notify("READY=1")
    server.serve_forever()


if __name__ == "__main__":
    main()
