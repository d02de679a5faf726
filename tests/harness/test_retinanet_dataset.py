"""OpenImages dataset reading and the reference preprocessing (800x800 RGB in 0..1, CHW), its cache, and bad
input as one-line errors naming the file."""

import json

import cv2
import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.retinanet import dataset


def make_dataset(root, images: dict[str, np.ndarray], listed: list[str] | None = None):
    """images: file name -> BGR uint8 array (written losslessly as PNG bytes under the .jpg name)."""
    (root / "validation/data").mkdir(parents=True)
    (root / "annotations").mkdir()
    for name, img in images.items():
        ok, buf = cv2.imencode(".png", img)
        assert ok
        (root / "validation/data" / name).write_bytes(buf.tobytes())
    names = listed if listed is not None else list(images)
    doc = {
        "images": [{"id": 100 + i, "file_name": n, "height": 10, "width": 20} for i, n in enumerate(names)],
        "annotations": [],
        "categories": [{"id": 0, "name": "x"}],
    }
    (root / "annotations/openimages-mlperf.json").write_text(json.dumps(doc))
    return root


def test_solid_colour_is_rgb_over_255(tmp_path):
    bgr = np.zeros((30, 50, 3), np.uint8)
    bgr[:] = (10, 128, 250)  # B, G, R
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), bgr)
    x = dataset.preprocess(path)
    assert x.shape == (3, 800, 800) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x[:, 400, 400], np.array([250, 128, 10], np.float32) / 255, rtol=1e-6)
    assert np.ptp(x, axis=(1, 2)).max() < 1e-6


def test_aspect_is_not_kept_and_axes_are_not_swapped(tmp_path):
    bgr = np.zeros((100, 400, 3), np.uint8)  # wide: left half red, right half blue
    bgr[:, :200] = (0, 0, 255)
    bgr[:, 200:] = (255, 0, 0)
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), bgr)
    x = dataset.preprocess(path)
    np.testing.assert_allclose(x[:, 799, 100], [1, 0, 0])
    np.testing.assert_allclose(x[:, 0, 700], [0, 0, 1])
    # linear interpolation on the float image, as the reference: the edge column blends the halves
    mid = x[0, 10, 398:402]
    assert mid[0] == 1 and mid[-1] == 0 and 0 < mid[1] < 1


def test_grey_image_gets_three_equal_channels(tmp_path):
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((40, 40), 51, np.uint8))
    x = dataset.preprocess(path)
    np.testing.assert_allclose(x[:, 5, 5], [0.2, 0.2, 0.2], rtol=1e-6)


def test_dataset_order_cache_and_batches(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {f"{i:016x}.jpg": rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8) for i in range(3)}
    root = make_dataset(tmp_path / "ds", imgs, listed=[f"{i:016x}.jpg" for i in (2, 0, 1)])
    entries = dataset.read_annotations(root)
    assert [e.path.name for e in entries] == [f"{i:016x}.jpg" for i in (2, 0, 1)]
    assert [e.image_id for e in entries] == [100, 101, 102]
    ds = dataset.Dataset(entries, tmp_path / "cache", threads=2)
    assert ds.preprocessed == 3
    again = dataset.Dataset(entries, tmp_path / "cache", threads=2)
    assert again.preprocessed == 0 and again.cache == ds.cache
    ds.load([0, 2])
    b = ds.batch([2, 0])
    assert b.shape == (2, 3, 800, 800)
    np.testing.assert_array_equal(b[1], dataset.preprocess(entries[0].path))
    assert dataset.read_annotations(root, count=2) == entries[:2]


def test_cache_key_follows_the_images(tmp_path):
    root = make_dataset(tmp_path / "ds", {"a.jpg": np.zeros((8, 8, 3), np.uint8)})
    before = dataset.cache_dir_for(tmp_path, dataset.read_annotations(root))
    cv2.imwrite(str(root / "validation/data/a.jpg"), np.ones((9, 8, 3), np.uint8))
    assert dataset.cache_dir_for(tmp_path, dataset.read_annotations(root)) != before


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_missing_annotations_file(tmp_path):
    (tmp_path / "validation/data").mkdir(parents=True)
    with pytest.raises(UsageError) as e:
        dataset.read_annotations(tmp_path)
    assert str(tmp_path / "annotations/openimages-mlperf.json") in one_line(e)


def test_image_named_but_missing(tmp_path):
    root = make_dataset(tmp_path / "ds", {"a.jpg": np.zeros((8, 8, 3), np.uint8)}, listed=["a.jpg", "0badc0de.jpg"])
    with pytest.raises(UsageError) as e:
        dataset.read_annotations(root)
    msg = one_line(e)
    assert "0badc0de.jpg is missing" in msg and "1 of 2" in msg


@pytest.mark.parametrize(
    "text, needle",
    [
        ("{", "is not valid JSON"),
        ("[]", "not a COCO-style"),
        ('{"images": []}', "lists no images"),
        ('{"images": [{"id": 1}]}', "images[0] lacks"),
    ],
)
def test_bad_annotations(tmp_path, text, needle):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/openimages-mlperf.json").write_text(text)
    with pytest.raises(UsageError) as e:
        dataset.read_annotations(tmp_path)
    msg = one_line(e)
    assert needle in msg and "openimages-mlperf.json" in msg


def test_count_out_of_range(tmp_path):
    root = make_dataset(tmp_path / "ds", {"a.jpg": np.zeros((8, 8, 3), np.uint8)})
    with pytest.raises(UsageError) as e:
        dataset.read_annotations(root, count=2)
    assert "--count 2" in one_line(e)


def test_unreadable_image(tmp_path):
    root = make_dataset(tmp_path / "ds", {"a.jpg": np.zeros((8, 8, 3), np.uint8)})
    (root / "validation/data/a.jpg").write_bytes(b"not an image")
    with pytest.raises(UsageError) as e:
        dataset.Dataset(dataset.read_annotations(root), tmp_path / "cache", threads=1)
    assert "a.jpg is not a readable image" in one_line(e)
