"""Camera seam: the folder simulator and the OpenCV back-end with no camera attached."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from drivers.camera import CameraError, CameraState, FolderCamera, OpenCvCamera, open_camera
from drivers.diagnostics import CheckStatus


@pytest.fixture
def folder(tmp_path):
    for k, shade in enumerate((10, 120, 250)):
        cv2.imwrite(str(tmp_path / f"{k}.png"), np.full((40, 60, 3), shade, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_folder_camera_serves_images_in_turn(folder):
    with FolderCamera(folder) as cam:
        shades = [int(cam.grab()[0, 0, 0]) for _ in range(4)]
    assert shades == [10, 120, 250, 10]
    assert cam.state is CameraState.CLOSED


def test_open_camera_picks_by_sim_prefix(folder):
    assert isinstance(open_camera("sim://", folder), FolderCamera)
    assert isinstance(open_camera("0", folder), OpenCvCamera)
    assert open_camera("0", folder).source == 0
    assert open_camera("/dev/video7", folder).source == "/dev/video7"


def test_unplugged_simulator_fails_with_a_typed_error(folder):
    cam = FolderCamera(folder)
    cam.open()
    cam.fail_next_reads = 1
    with pytest.raises(CameraError) as lost:
        cam.grab()
    assert lost.value.code == "CAMERA_READ"
    assert cam.grab().shape == (40, 60, 3)  # recovers after a lost frame
    cam.unplugged = True
    with pytest.raises(CameraError):
        cam.grab()
    assert cam.state is CameraState.ERROR


def test_missing_camera_is_a_user_facing_error_not_a_crash(tmp_path):
    cam = OpenCvCamera(str(tmp_path / "video99"))
    with pytest.raises(CameraError) as missing:
        cam.open()
    assert missing.value.code == "CAMERA_MISSING"
    assert "拍摄仪" in missing.value.message("zh_CN") and "camera" in missing.value.message("en")
    result = cam.self_test()
    assert result.status is CheckStatus.MISSING and result.name == "camera"
    with pytest.raises(CameraError):
        cam.grab()


def test_self_test_of_simulator_reports_frame_size(folder, tmp_path):
    ok = FolderCamera(folder).self_test()
    assert ok.status is CheckStatus.OK and ok.data == {"width": 60, "height": 40}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert FolderCamera(empty).self_test().status is CheckStatus.MISSING


def test_shipped_demo_receipts_are_served(tmp_path):
    from kiosk.config import PROJECT_ROOT
    cam = open_camera("sim://", PROJECT_ROOT / "assets" / "receipts")
    cam.open()
    assert len(cam.files) >= 3
    assert cam.grab().ndim == 3
