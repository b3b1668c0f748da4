"""Simulated street cameras: MJPEG over HTTP on 127.0.0.1, one path per camera.

The detector reads them like any HTTP camera (OpenCV's FFmpeg backend); the demo
switches what each one shows.
"""

from __future__ import annotations

import http.server
import logging
import threading
import time

import cv2

from streams.dev.demo.scene import Image, Scene

logger = logging.getLogger(__name__)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("camera server: " + format, *args)  # noqa: G003

    def do_GET(self) -> None:
        name = self.path.strip("/").removesuffix(".mjpg")
        if name not in self.server.cams.scenes:
            self.send_error(404, f"no camera {name!r}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        period = 1.0 / self.server.cams.fps
        try:
            while not self.server.cams.stopping.is_set():
                data = self.server.cams.jpeg(name)
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(data)).encode()
                    + b"\r\n\r\n"
                    + data
                    + b"\r\n"
                )
                self.wfile.flush()
                time.sleep(period)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    cams: CameraServer


class CameraServer:
    """Serves ``http://127.0.0.1:PORT/<camera>.mjpg`` for every scene; ``show`` switches a camera.

    ``port`` 0 takes a free one; ``stop`` cuts every client off, and a new server on the
    same port brings the cameras back (how tests cut a live stream)."""

    def __init__(self, scenes: dict[str, Scene], fps: float = 5.0, port: int = 0) -> None:
        self.scenes = scenes
        self.fps = fps
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._showing: dict[str, str] = dict.fromkeys(scenes, "violation")
        self._jpeg: dict[tuple[str, str], bytes] = {}
        for name, scene in scenes.items():
            for look, image in (("violation", scene.violation), ("clear", scene.clear)):
                self._jpeg[(name, look)] = _encode(image)
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.cams = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-cameras", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}.mjpg"

    def start(self) -> CameraServer:
        self._thread.start()
        return self

    def show(self, name: str, look: str) -> None:
        with self._lock:
            self._showing[name] = look

    def showing(self, name: str) -> str:
        with self._lock:
            return self._showing[name]

    def jpeg(self, name: str) -> bytes:
        with self._lock:
            return self._jpeg[(name, self._showing[name])]

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


def _encode(image: Image) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return bytes(buf.tobytes())
