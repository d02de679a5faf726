"""KiTS19 preprocessing of hand-made raw NIfTI cases against hand-checked shapes and values."""

import pickle

import numpy as np
import pytest

from mlperf_harness import cli
from mlperf_harness.workloads.unet3d import PAD_VALUE, preprocess

nib = pytest.importorskip("nibabel")

SOFT = 101.0 + 76.9  # HU that standardises to exactly 1.0


def write_case(raw, name, image, label, spacing):
    d = raw / name
    d.mkdir(parents=True)
    affine = np.zeros((4, 4))
    affine[0, 2], affine[1, 1], affine[2, 0], affine[3, 3] = -spacing[2], -spacing[1], spacing[0], 1.0
    for fname, data in (("imaging.nii.gz", image), ("segmentation.nii.gz", label)):
        img = nib.Nifti1Image(data, affine)
        img.header.set_zooms(spacing)
        nib.save(img, d / fname)


def test_small_case_is_resampled_normalised_and_edge_padded(tmp_path):
    """(40, 50, 60) at (3.2, 2.4, 1.2) mm: zoom (2, 2, 1) -> (80, 100, 60); edge-padded to 128 on each axis:
    z by (24, 24), y by (14, 14), x by (34, 34); 128 is a multiple of the 64 stride, so nothing more."""
    image = np.full((40, 50, 60), -1000.0, np.float32)  # air, clipped to -79 HU
    image[10:30, 10:40, 10:50] = SOFT
    image[18:22, 20:30, 25:35] = 2000.0  # bone, clipped to 304 HU
    label = np.zeros((40, 50, 60), np.uint8)
    label[10:30, 10:40, 10:50] = 1
    label[18:22, 20:30, 25:35] = 2
    write_case(tmp_path / "raw", "case_00007", image, label, (3.2, 2.4, 1.2))
    info = preprocess.preprocess(tmp_path / "raw", tmp_path / "out")
    assert info["file_list"] == ["case_00007"]
    aux = info["cases"]["case_00007"]
    assert tuple(aux["image_shape"]) == (1, 128, 128, 128)
    np.testing.assert_allclose(aux["zoom_factor"], [2.0, 2.0, 1.0], rtol=1e-6)
    with open(tmp_path / "out" / "case_00007.pkl", "rb") as f:
        img, lab = pickle.load(f)
    assert img.dtype == np.float32 and lab.dtype == np.uint8
    assert img.shape == lab.shape == (1, 128, 128, 128)
    air, bone = (-79.0 - 101.0) / 76.9, (304.0 - 101.0) / 76.9
    # resampled (80, 100, 60) sits at z 24.., y 14.., x 34..; raw voxel (z, y, x) -> (24+2z, 14+2y, 34+x)
    assert img[0, 24 + 24, 14 + 24, 34 + 12] == pytest.approx(1.0, abs=1e-5)  # soft tissue, raw (12, 12, 12)
    assert img[0, 24 + 40, 14 + 50, 34 + 30] == pytest.approx(bone, abs=1e-5)  # bone, raw (20, 25, 30)
    assert img[0, 0, 0, 0] == pytest.approx(air, abs=1e-5)  # edge padding repeats air, not PAD_VALUE
    assert img.min() == pytest.approx(air, abs=1e-5) and img.max() == pytest.approx(bone, abs=1e-5)
    assert lab[0, 64, 64, 64] == 2 and lab[0, 24 + 20, 14 + 20, 34 + 10] == 1 and lab[0, 0, 0, 0] == 0
    # kidney/tumour volume scales with the zoom (x4), nearest-neighbour keeps the classes
    assert set(np.unique(lab)) == {0, 1, 2}
    assert np.count_nonzero(lab == 2) == 4 * (4 * 10 * 10)
    with open(tmp_path / "out" / "preprocessed_files.pkl", "rb") as f:
        listed = pickle.load(f)
    assert listed["file_list"] == ["case_00007"] and tuple(listed["cases"]["case_00007"]["image_shape"]) == img.shape
    seg = nib.load(tmp_path / "out" / "nifti" / "case_00007" / "segmentation.nii.gz")
    assert seg.shape == (128, 128, 128)


@pytest.mark.parametrize(
    ("depth", "want", "pad_front"),
    [(100, 192, None), (90, 192, 6)],  # 200 -> 200 % 64 = 8 < 32: cropped to 192; 180 -> 52: padded 6 + 6
)
def test_long_axis_is_cropped_or_padded_to_the_stride(tmp_path, depth, want, pad_front):
    image = np.full((depth, 64, 64), SOFT, np.float32)
    label = np.ones((depth, 64, 64), np.uint8)
    write_case(tmp_path / "raw", "case_00001", image, label, (3.2, 2.4, 2.4))
    img, lab, aux = preprocess.preprocess_case(tmp_path / "raw", "case_00001")
    assert img.shape == (1, want, 128, 128)
    if pad_front is None:
        assert (lab[0, :, 64, 64] == 1).all()
    else:
        assert img[0, pad_front - 1, 64, 64] == pytest.approx(PAD_VALUE) and lab[0, pad_front - 1, 64, 64] == 0
        assert img[0, pad_front, 64, 64] == pytest.approx(1.0, abs=1e-5) and lab[0, pad_front, 64, 64] == 1
        assert img[0, want - pad_front, 64, 64] == pytest.approx(PAD_VALUE)


def test_missing_segmentation_names_the_file(tmp_path):
    write_case(
        tmp_path / "raw", "case_00002", np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.uint8), (1.6, 1.2, 1.2)
    )
    (tmp_path / "raw" / "case_00002" / "segmentation.nii.gz").unlink()
    rc = cli.main(
        ["preprocess", "--model", "3d-unet-99", "--raw-data-dir", str(tmp_path / "raw"),
         "--results-dir", str(tmp_path / "out")]
    )  # fmt: skip
    assert rc == 2


def test_preprocess_command_writes_the_layout_run_reads(tmp_path, capsys):
    """`python -m mlperf_harness preprocess --model 3d-unet-99`: the file list and one pickle per case, which the
    QSL then reads; a model without a preprocessor is refused by the parser."""
    from mlperf_harness.workloads.unet3d import dataset

    image = np.full((40, 50, 60), SOFT, np.float32)
    write_case(tmp_path / "raw", "case_00003", image, np.ones((40, 50, 60), np.uint8), (1.6, 1.2, 1.2))
    argv = ["preprocess", "--model", "3d-unet-99.9", "--raw-data-dir", str(tmp_path / "raw"),
            "--results-dir", str(tmp_path / "out"), "--no-nifti"]  # fmt: skip
    assert cli.main(argv) == 0
    assert "wrote 1 cases and preprocessed_files.pkl" in capsys.readouterr().out
    assert not (tmp_path / "out" / "nifti").exists()
    cases = dataset.Cases(tmp_path / "out")
    image, label = cases.read(0)
    assert cases.names == ["case_00003"] and image.shape == label.shape == (1, 128, 128, 128)
    assert cli.main([*argv[:2], "resnet50", *argv[3:]]) == 2
    assert "invalid choice: 'resnet50'" in capsys.readouterr().err
