"""Document camera: one narrow seam (`open`, `grab`, `close`, `self_test`), a real back-end
over OpenCV and a folder simulator. `open_camera(source, sim_folder)` picks by `sim://`.
No Qt here."""
from drivers.camera.camera import (Camera, CameraClosed, CameraDisabled, CameraError, CameraMissing, CameraReadFailed,
                                   CameraState, FolderCamera, OpenCvCamera, open_camera)

__all__ = ["Camera", "CameraClosed", "CameraDisabled", "CameraError", "CameraMissing", "CameraReadFailed", "CameraState",
           "FolderCamera", "OpenCvCamera", "open_camera"]
