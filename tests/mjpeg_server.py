"""A live MJPEG-over-HTTP camera for tests that can be cut and brought back: the demo's camera server."""

from __future__ import annotations

import numpy as np

from streams.dev.demo.camserver import CameraServer
from streams.dev.demo.scene import Scene


class MjpegCamera:
    """``start()`` serves http://127.0.0.1:PORT/stream.mjpg; ``stop()`` cuts every client off."""

    def __init__(self, port: int = 0, fps: float = 10.0) -> None:
        self.port = port
        self.fps = fps
        self._server: CameraServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> MjpegCamera:
        image = np.full((120, 160, 3), 40, np.uint8)
        image[:, :8] = 255
        self._server = CameraServer(
            {"stream": Scene(violation=image, clear=image)}, self.fps, self.port
        ).start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
