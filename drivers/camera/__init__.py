"""Document camera: one narrow seam (`open`, `grab`, `close`, `self_test`), a real back-end
over OpenCV and a folder simulator. `open_camera(source, sim_folder)` picks by `sim://`.
`camera.py` owns OpenCV for the drivers (frames: `shrink`, `encode_png`, `decode_qr`). No Qt here."""
from drivers.camera.camera import (
    Camera,
    CameraClosed,
    CameraDisabled,
    CameraError,
    CameraMissing,
    CameraReadFailed,
    CameraState,
    FolderCamera,
    OpenCvCamera,
    decode_qr,
    encode_png,
    open_camera,
    shrink,
)

__all__ = ["Camera", "CameraClosed", "CameraDisabled", "CameraError", "CameraMissing", "CameraReadFailed", "CameraState",
           "FolderCamera", "OpenCvCamera", "decode_qr", "encode_png", "open_camera", "shrink"]
