"""A tiny MJPEG-over-HTTP camera for tests: a live stream that can be cut and brought back."""

from __future__ import annotations

import http.server
import threading
import time

import cv2
import numpy as np


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        n = 0
        try:
            while not self.server.cut.is_set():
                img = np.full((120, 160, 3), 40, np.uint8)
                img[:, (n * 8) % 160 : (n * 8) % 160 + 8] = 255
                _, jpeg = cv2.imencode(".jpg", img)
                data = jpeg.tobytes()
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(data)).encode()
                    + b"\r\n\r\n"
                    + data
                    + b"\r\n"
                )
                self.wfile.flush()
                n += 1
                time.sleep(1 / self.server.fps)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    cut: threading.Event
    fps: float


class MjpegCamera:
    """``start()`` serves http://127.0.0.1:PORT/stream.mjpg; ``stop()`` cuts every client off."""

    def __init__(self, port: int = 0, fps: float = 10.0) -> None:
        self.port = port
        self.fps = fps
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> MjpegCamera:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.cut = threading.Event()
        server.fps = self.fps
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.cut.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None
