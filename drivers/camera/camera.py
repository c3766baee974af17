"""Camera back-ends. `FolderCamera` is the simulator at the same seam as `OpenCvCamera`: it
serves the images of a folder in turn, with fault switches (unplug, unreadable frame) so the
station's error paths can be exercised without hardware."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from drivers.errors import DriverError

SIMULATED = "sim://"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class CameraError(DriverError):
    """Base of the document camera's errors (the `DriverError` shape)."""

    code = "CAMERA_ERROR"
    message_zh = "拍摄仪出错，请联系工作人员"
    message_en = "Camera error; please call staff"


class CameraMissing(CameraError):
    code = "CAMERA_MISSING"
    message_zh = "未找到拍摄仪，请检查连接"
    message_en = "Camera not found; check the cable"


class CameraReadFailed(CameraError):
    code = "CAMERA_READ"
    message_zh = "拍摄仪没有画面，请检查连接"
    message_en = "No picture from the camera; check the cable"


class CameraClosed(CameraError):
    code = "CAMERA_CLOSED"
    message_zh = "拍摄仪未打开"
    message_en = "The camera is not open"


class CameraDisabled(CameraError):
    code = "CAMERA_DISABLED"
    message_zh = "拍摄仪已在配置中关闭"
    message_en = "The camera is disabled in config.toml"


class CameraState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    ERROR = "error"


def _missing(source: object) -> CameraError:
    return CameraMissing(f"{source}", message_zh=f"未找到拍摄仪（{source}），请检查连接",
                         message_en=f"camera not found ({source}); check the cable")


class Camera(Protocol):
    state: CameraState

    def open(self) -> None: ...

    def grab(self) -> np.ndarray:
        """One BGR frame (H × W × 3 uint8)."""
        ...

    def close(self) -> None: ...

    def self_test(self) -> CheckResult: ...


class OpenCvCamera:
    """A UVC document camera through cv2.VideoCapture: an index (0) or a device path."""

    def __init__(self, source: int | str, warmup_frames: int = 2) -> None:
        self.source: int | str = int(source) if isinstance(source, str) and source.isdigit() else source
        self.warmup_frames = warmup_frames
        self.state = CameraState.CLOSED
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        if self._cap is not None:
            return
        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            self.state = CameraState.ERROR
            raise _missing(self.source)
        self._cap, self.state = cap, CameraState.OPEN
        for _ in range(self.warmup_frames):  # auto-exposure settles on the first frames
            cap.read()

    def grab(self) -> np.ndarray:
        if self._cap is None:
            raise CameraClosed()
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self.state = CameraState.ERROR
            raise CameraReadFailed(f"no frame from camera {self.source}")
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap, self.state = None, CameraState.CLOSED

    def self_test(self) -> CheckResult:
        return _self_test(self, f"camera {self.source}")

    def __enter__(self) -> OpenCvCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderCamera:
    """Serves the folder's images in name order, round and round. Fault switches:
    `unplugged` (open/grab fail as a missing camera) and `fail_next_reads` (frames lost)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.state = CameraState.CLOSED
        self.unplugged = False
        self.fail_next_reads = 0
        self._files: list[Path] = []
        self._next = 0

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def open(self) -> None:
        if self.unplugged or not self.folder.is_dir():
            self.state = CameraState.ERROR
            raise _missing(f"{SIMULATED}{self.folder}")
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            self.state = CameraState.ERROR
            raise CameraMissing(f"{self.folder}", message_zh=f"模拟拍摄仪的文件夹里没有图片（{self.folder}）",
                                message_en=f"simulated camera folder has no images ({self.folder})")
        self._next, self.state = 0, CameraState.OPEN

    def grab(self) -> np.ndarray:
        if self.state is not CameraState.OPEN:
            raise CameraClosed()
        if self.unplugged:
            self.state = CameraState.ERROR
            raise CameraReadFailed("unplugged", message_zh="拍摄仪已断开", message_en="camera unplugged")
        if self.fail_next_reads > 0:
            self.fail_next_reads -= 1
            raise CameraReadFailed("simulated fault", message_zh="拍摄仪没有画面，请重试")
        path = self._files[self._next % len(self._files)]
        self._next += 1
        frame = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            raise CameraReadFailed(f"unreadable image {path.name}", message_zh=f"图片无法读取（{path.name}）",
                                   message_en=f"unreadable image {path.name}")
        return frame

    def close(self) -> None:
        self.state = CameraState.CLOSED

    def self_test(self) -> CheckResult:
        return _self_test(self, f"simulated camera {self.folder}")

    def __enter__(self) -> FolderCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _self_test(camera: OpenCvCamera | FolderCamera, what: str) -> CheckResult:
    was_open = camera.state is CameraState.OPEN
    result: tuple[CheckStatus, str, str, dict[str, int], str]
    with Stopwatch() as sw:
        try:
            if not was_open:
                camera.open()
            frame = camera.grab()
        except CameraError as exc:
            status = CheckStatus.MISSING if isinstance(exc, CameraMissing) else CheckStatus.ERROR
            result = (status, exc.message_en, exc.message_zh, {}, exc.code)
        else:
            h, w = frame.shape[:2]
            result = (CheckStatus.OK, f"{what}: {w}x{h} frame", f"拍摄仪正常（{w}x{h}）", {"width": w, "height": h}, "")
        finally:
            if not was_open:
                camera.close()
    status, detail, detail_zh, data, code = result
    return CheckResult("camera", status, detail, detail_zh, sw.ms, data, code=code)


# -- frames: this module owns OpenCV for the drivers (the QR decoder uses these too) ------------

def shrink(frame: np.ndarray, max_width: int) -> np.ndarray:
    """A copy no wider than `max_width` (the frame itself when it is narrow enough)."""
    height, width = frame.shape[:2]
    if width <= max_width:
        return frame
    scale = max_width / width
    return cv2.resize(frame, (max_width, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def encode_png(frame: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", frame)
    if not ok:
        raise CameraReadFailed("PNG encoding failed", message_zh="拍摄仪画面无法保存", message_en="camera frame could not be encoded")
    return bytes(png.tobytes())


def decode_qr(image: object) -> str | None:
    """The QR code's text in a frame, or None when there is none (or the frame is unusable)."""
    if not isinstance(image, np.ndarray) or image.size == 0 or image.ndim not in (2, 3):
        return None
    frame = image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    try:
        text, _points, _ = cv2.QRCodeDetector().detectAndDecode(frame)
    except cv2.error:
        return None
    return str(text) or None


def open_camera(source: str, sim_folder: str | Path) -> OpenCvCamera | FolderCamera:
    """The configured camera, not yet opened: `sim://` → FolderCamera(sim_folder)."""
    if source.startswith(SIMULATED):
        rest = source[len(SIMULATED):]
        return FolderCamera(Path(rest) if rest else Path(sim_folder))
    return OpenCvCamera(source)
