"""Simulated street cameras: MJPEG over HTTP on 127.0.0.1, one path per camera.

The detector reads them like any HTTP camera (OpenCV's FFmpeg backend); the demo
switches what each one shows. A camera can play a recorded clip instead (``Footage``:
its frames in a loop at the clip's own rate), as the capacity benchmark's do.
"""

from __future__ import annotations

import http.server
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streams.contract.errors import SourceError
from streams.dev.demo.scene import Image, Scene

logger = logging.getLogger(__name__)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("camera server: " + format, *args)  # noqa: G003

    def do_GET(self) -> None:
        name = self.path.strip("/").removesuffix(".mjpg")
        cams = self.server.cams
        if name not in cams.scenes and name not in cams.footage:
            self.send_error(404, f"no camera {name!r}")
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        period = 1.0 / (cams.footage[name].fps if name in cams.footage else cams.fps)
        due = time.monotonic()
        try:
            while not cams.stopping.is_set():
                data = cams.jpeg(name)
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(data)).encode()
                    + b"\r\n\r\n"
                    + data
                    + b"\r\n"
                )
                self.wfile.flush()
                # paced by a schedule, so the time spent writing does not slow the rate
                due = max(due + period, time.monotonic() - period)
                time.sleep(max(0.0, due - time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    cams: CameraServer


@dataclass(frozen=True)
class Footage:
    """A clip's frames as JPEG, played in a loop at ``fps``, ``offset_s`` into it at the start."""

    frames: tuple[bytes, ...]
    fps: float
    offset_s: float = 0.0

    def at(self, t: float) -> bytes:
        """The frame showing ``t`` seconds after the camera started."""
        return self.frames[int((t + self.offset_s) * self.fps) % len(self.frames)]


def load_footage(path: Path) -> Footage:
    """Every frame of a video file, JPEG-encoded once (serving them then costs no encoding)."""
    if not path.is_file():
        raise SourceError(f"video file {path} not found")
    cap = cv2.VideoCapture(str(path))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = []
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                break
            frames.append(_encode(np.asarray(image, dtype=np.uint8)))
    finally:
        cap.release()
    if not frames:
        raise SourceError(f"cannot read any frame of {path}: is it a video file OpenCV can decode?")
    return Footage(tuple(frames), fps if 0 < fps < 1000 else 25.0)


class CameraServer:
    """Serves ``http://127.0.0.1:PORT/<camera>.mjpg`` for every scene and every footage;
    ``show`` switches a scene's camera.

    ``port`` 0 takes a free one; ``stop`` cuts every client off, and a new server on the
    same port brings the cameras back (how tests cut a live stream)."""

    def __init__(
        self,
        scenes: dict[str, Scene],
        fps: float = 5.0,
        port: int = 0,
        footage: dict[str, Footage] | None = None,
    ) -> None:
        self.scenes = scenes
        self.footage = footage or {}
        self.fps = fps
        self._started = time.monotonic()
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
        if name in self.footage:
            return self.footage[name].at(time.monotonic() - self._started)
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
