"""`prepare`: small raw fixtures in each dataset's published layout -> the family's preparer -> what its own
dataset loader and the host's dataset check accept; bad raw input -> one line naming the file."""

import csv
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlperf_harness import cli, workloads
from mlperf_harness.errors import UsageError
from mlperf_harness.prepare import SUMMARY_PREFIX


def prepare(model, raw, dest, count=None):
    dest.mkdir(parents=True, exist_ok=True)  # as the command does
    return workloads.base.load(workloads.get(model).dataset_preparer)(raw, dest, model, count)


def host_accepts(model, dest, count=None):
    """What `run`'s preflight checks: the declared files and the workload's dataset check."""
    w = workloads.get(model)
    assert [f for f in w.dataset_files if not (dest / f).exists()] == []
    w.check_dataset(dest, count)


def one_line(excinfo, *names):
    text = str(excinfo.value)
    assert "\n" not in text
    for name in names:
        assert name in text, text


def add_bytes(tar, name, data: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


# -- ImageNet ----------------------------------------------------------------------------------------------------
def imagenet_raw(root: Path, n=4, labels=None) -> Path:
    import cv2

    raw = root / "raw"
    (raw / "datasets" / "imagenet").mkdir(parents=True)
    labels = labels or [(i * 37) % 1000 for i in range(n)]
    with tarfile.open(raw / "datasets" / "imagenet" / "ILSVRC2012_img_val.tar", "w") as tar:
        for i in reversed(range(n)):  # the archive's order is not the numbering
            img = np.full((40 + i, 60, 3), 20 * i, np.uint8)
            add_bytes(tar, f"ILSVRC2012_val_{i + 1:08d}.JPEG", cv2.imencode(".jpg", img)[1].tobytes())
    val = "".join(f"ILSVRC2012_val_{i + 1:08d}.JPEG {lab}\n" for i, lab in enumerate(labels))
    with tarfile.open(raw / "caffe_ilsvrc12.tar.gz", "w:gz") as tar:
        add_bytes(tar, "val.txt", val.encode())
        add_bytes(tar, "synsets.txt", b"n01440764\n")
    return raw


def test_imagenet_tar_and_caffe_labels_become_val_map(tmp_path):
    from mlperf_harness.workloads.imagenet import dataset

    raw = imagenet_raw(tmp_path)
    s = prepare("resnet50", raw, tmp_path / "out")
    assert s["samples"] == 4 and s["source"] == "datasets/imagenet/ILSVRC2012_img_val.tar"
    assert (tmp_path / "out" / "val_map.txt").read_text().splitlines() == [
        "ILSVRC2012_val_00000001.JPEG 0", "ILSVRC2012_val_00000002.JPEG 37", "ILSVRC2012_val_00000003.JPEG 74",
        "ILSVRC2012_val_00000004.JPEG 111"]
    host_accepts("resnet50", tmp_path / "out")
    entries = dataset.read_val_map(tmp_path / "out", None)
    assert [e.label for e in entries] == [0, 37, 74, 111]
    assert dataset.preprocess_vgg(entries[2].path).shape == (3, 224, 224)


def test_imagenet_count_and_extracted_images(tmp_path):
    raw = imagenet_raw(tmp_path)
    with tarfile.open(raw / "datasets" / "imagenet" / "ILSVRC2012_img_val.tar") as tar:
        tar.extractall(raw / "val", filter="data")
    (raw / "datasets" / "imagenet" / "ILSVRC2012_img_val.tar").unlink()
    s = prepare("mobilenet", raw, tmp_path / "out", count=2)
    assert s["samples"] == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG", "val_map.txt"]
    host_accepts("mobilenet", tmp_path / "out", 2)


def test_imagenet_bad_labels_and_missing_image_are_one_line(tmp_path):
    raw = imagenet_raw(tmp_path)
    (raw / "caffe_ilsvrc12.tar.gz").unlink()
    (raw / "val.txt").write_text("ILSVRC2012_val_00000001.JPEG 1000\n")
    with pytest.raises(UsageError) as e:
        prepare("resnet50", raw, tmp_path / "out")
    one_line(e, str(raw / "val.txt") + ":1", "label 0..999")
    (raw / "val.txt").write_text("ILSVRC2012_val_00000009.JPEG 3\n")
    with pytest.raises(UsageError) as e:
        prepare("resnet50", raw, tmp_path / "out2")
    one_line(e, "ILSVRC2012_val_00000009.JPEG")
    (raw / "val.txt").unlink()
    with pytest.raises(UsageError) as e:
        prepare("resnet50", raw, tmp_path / "out3")
    one_line(e, "val.txt or caffe_ilsvrc12.tar.gz")


# -- OpenImages (retinanet) --------------------------------------------------------------------------------------
def openimages_raw(root: Path) -> Path:
    import cv2

    raw = root / "raw"
    ann = raw / "datasets" / "openimages" / "annotations"
    ann.mkdir(parents=True)
    (ann / "class-descriptions-boxable.csv").write_text(
        "/m/0cmf2,Airplane\n/m/0bt9lr,Dog\n/m/01yrx,Cat\n/m/999,Not an MLPerf class\n")
    rows = [  # ImageID, LabelName, XMin, XMax, YMin, YMax, flags
        ("bbb", "/m/0bt9lr", 0.1, 0.5, 0.2, 0.6, 1), ("aaa", "/m/0cmf2", 0.0, 0.5, 0.0, 0.25, 0),
        ("ccc", "/m/999", 0.1, 0.2, 0.1, 0.2, 0), ("aaa", "/m/01yrx", 0.5, 1.0, 0.5, 1.0, 0)]
    with (ann / "validation-annotations-bbox.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax", "IsOccluded",
                    "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside"])
        for image, label, x0, x1, y0, y1, group in rows:
            w.writerow([image, "xclick", label, 1, x0, x1, y0, y1, 0, 1, group, 0, 0])
    images = raw / "validation" / "data"
    images.mkdir(parents=True)
    for name, (h, w) in {"aaa": (100, 200), "bbb": (50, 80), "ccc": (30, 30)}.items():
        cv2.imwrite(str(images / f"{name}.jpg"), np.full((h, w, 3), 128, np.uint8))
    return raw


def test_openimages_csvs_become_the_mlperf_annotations(tmp_path):
    from mlperf_harness.workloads.retinanet import annotations
    from mlperf_harness.workloads.retinanet import prepare as rprep
    from mlperf_harness.workloads.retinanet.accuracy import _coco

    raw = openimages_raw(tmp_path)
    s = prepare("retinanet", raw, tmp_path / "out")
    assert s["samples"] == 2 and s["boxes"] == 3  # ccc holds no MLPerf class
    host_accepts("retinanet", tmp_path / "out")
    entries = annotations.read_annotations(tmp_path / "out")
    assert [(e.image_id, e.path.name, e.height, e.width) for e in entries] == [(1, "aaa.jpg", 100, 200),
                                                                               (2, "bbb.jpg", 50, 80)]
    doc = json.loads((tmp_path / "out" / "annotations" / "openimages-mlperf.json").read_text())
    cat = {c["name"]: c["id"] for c in doc["categories"]}
    assert len(doc["categories"]) == 264 and cat["Airplane"] == 0 and cat["Dog"] == rprep.MLPERF_CLASSES.index("Dog")
    by_image = {(a["image_id"], a["category_id"]): a for a in doc["annotations"]}
    assert by_image[(1, 0)]["bbox"] == [0.0, 0.0, 100.0, 25.0]
    assert by_image[(2, cat["Dog"])]["bbox"] == pytest.approx([8.0, 10.0, 32.0, 20.0])
    assert by_image[(2, cat["Dog"])]["iscrowd"] == 1
    _coco(tmp_path / "out" / "annotations" / "openimages-mlperf.json", doc)  # the scorer's COCO index takes it


def test_openimages_missing_image_and_bad_csv_are_one_line(tmp_path):
    raw = openimages_raw(tmp_path)
    (raw / "validation" / "data" / "bbb.jpg").unlink()
    with pytest.raises(UsageError) as e:
        prepare("retinanet", raw, tmp_path / "out")
    one_line(e, "bbb.jpg")
    assert prepare("retinanet", raw, tmp_path / "one", count=1)["samples"] == 1
    csv_path = raw / "datasets" / "openimages" / "annotations" / "validation-annotations-bbox.csv"
    csv_path.write_text("ImageID,LabelName\naaa,/m/0cmf2\n")
    with pytest.raises(UsageError) as e:
        prepare("retinanet", raw, tmp_path / "out2")
    one_line(e, str(csv_path), "XMin")


# -- LibriSpeech (rnnt) ------------------------------------------------------------------------------------------
def librispeech_raw(root: Path, seconds=(1.0, 16.0, 0.5)) -> Path:
    import soundfile

    base = root / "src" / "LibriSpeech" / "dev-clean"
    rng = np.random.default_rng(0)
    for speaker, chapter, n in (("84", "121123", 2), ("1272", "128104", 1)):
        d = base / speaker / chapter
        d.mkdir(parents=True)
        lines = []
        for i in range(n):
            uid = f"{speaker}-{chapter}-{i:04d}"
            secs = seconds[i] if speaker == "84" else seconds[2]
            audio = (rng.standard_normal(int(16000 * secs)) * 1000).astype(np.int16)
            soundfile.write(d / f"{uid}.flac", audio, 16000, format="FLAC")
            lines.append(f"{uid} HELLO WORLD NUMBER {i}\n")
        (d / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
    raw = root / "raw" / "datasets" / "librispeech"
    raw.mkdir(parents=True)
    with tarfile.open(raw / "dev-clean.tar.gz", "w:gz") as tar:
        tar.add(root / "src" / "LibriSpeech", arcname="LibriSpeech")
    return root / "raw"


def test_librispeech_tar_becomes_wavs_and_manifest(tmp_path):
    from mlperf_harness.workloads.rnnt import dataset

    raw = librispeech_raw(tmp_path)
    s = prepare("rnnt", raw, tmp_path / "out")
    assert s["samples"] == 3 and s["source"] == "datasets/librispeech/dev-clean.tar.gz"
    assert not (tmp_path / "out" / ".extract").exists()
    host_accepts("rnnt", tmp_path / "out")
    entries = json.loads((tmp_path / "out" / "dev-clean-wav.json").read_text())
    assert [e["files"][0]["fname"] for e in entries] == [
        "dev-clean-wav/1272/128104/1272-128104-0000.wav", "dev-clean-wav/84/121123/84-121123-0000.wav",
        "dev-clean-wav/84/121123/84-121123-0001.wav"]
    assert entries[0]["transcript"] == "hello world number 0" and entries[2]["original_duration"] == 16.0
    kept = dataset.read_manifest(tmp_path / "out")  # the 16 s utterance is dropped by the reader, as the reference
    assert len(kept) == 2
    wave = dataset.load_wav(kept[1].wav)
    assert wave.dtype == np.float32 and wave.shape == (16000,)


def test_librispeech_count_skips_long_and_bad_flac_is_one_line(tmp_path):
    raw = librispeech_raw(tmp_path)
    s = prepare("rnnt", raw, tmp_path / "out", count=2)
    assert s["samples"] == 2 and s["skipped_over_15s"] == 0
    with pytest.raises(UsageError) as e:
        prepare("rnnt", raw, tmp_path / "out3", count=3)
    one_line(e, "--count 3 exceeds the 2 utterances")
    # an extracted tree with a broken flac
    (raw / "datasets" / "librispeech" / "dev-clean.tar.gz").unlink()
    tree = tmp_path / "src" / "LibriSpeech"
    bad = tree / "dev-clean" / "84" / "121123" / "84-121123-0001.flac"
    bad.write_bytes(b"not flac")
    with pytest.raises(UsageError) as e:
        prepare("rnnt", tree, tmp_path / "out4")
    one_line(e, str(bad))


# -- COCO 2014 captions (sdxl) -----------------------------------------------------------------------------------
def coco_raw(root: Path, n=12) -> Path:
    import torch

    raw = root / "raw"
    d = raw / "datasets" / "coco2014"
    d.mkdir(parents=True)
    images = [{"id": 100 + i, "file_name": f"COCO_val2014_{100 + i:012d}.jpg", "height": 480, "width": 640,
               "coco_url": f"http://images.cocodataset.org/val2014/COCO_val2014_{100 + i:012d}.jpg"}
              for i in range(n)]
    anns = [{"id": 5000 - 7 * i, "image_id": 100 + i, "caption": f"A photo\nof thing {i}. "} for i in range(n)]
    anns.append({"id": 1, "image_id": 100, "caption": "a second caption of image 100"})  # dropped: not the first
    with zipfile.ZipFile(d / "annotations_trainval2014.zip", "w") as z:
        z.writestr("annotations/captions_val2014.json", json.dumps({"images": images, "annotations": anns}))
        z.writestr("annotations/instances_val2014.json", "{}")
    torch.save(torch.zeros(1, 4, 8, 8), raw / "latents.pt")
    np.savez(raw / "val2014.npz", mu=np.zeros(4), sigma=np.eye(4))
    (raw / "clip").mkdir()
    (raw / "clip" / "config.json").write_text("{}")
    (raw / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"weights")
    (raw / "val2014").mkdir()
    (raw / "val2014" / images[3]["file_name"]).write_bytes(b"jpeg")
    return raw


def test_coco_captions_become_the_reference_subset(tmp_path):
    pd = pytest.importorskip("pandas")
    from mlperf_harness.workloads.sdxl import dataset

    raw = coco_raw(tmp_path)
    s = prepare("sdxl", raw, tmp_path / "out", count=5)
    assert s["samples"] == 5
    host_accepts("sdxl", tmp_path / "out")
    captions = dataset.read_captions(tmp_path / "out" / dataset.CAPTIONS)
    # the reference's selection, with pandas as text_to_image/tools/coco.py does it
    doc = json.loads(zipfile.ZipFile(raw / "datasets/coco2014/annotations_trainval2014.zip").read(
        "annotations/captions_val2014.json"))
    df = pd.DataFrame(doc["annotations"]).drop_duplicates(subset=["image_id"], keep="first")
    df = df.sort_values(by=["id"]).sample(frac=1, random_state=2023).reset_index(drop=True).iloc[:5]
    df["caption"] = df["caption"].apply(lambda x: x.replace("\n", "").strip())
    df = df.sort_values(by=["id"])
    assert captions == df["caption"].tolist()
    rows = list(csv.DictReader((tmp_path / "out" / dataset.CAPTIONS).open(), delimiter="\t"))
    assert [int(r["id"]) for r in rows] == df["id"].tolist() and list(rows[0]) == [
        "id", "image_id", "caption", "height", "width", "file_name", "coco_url"]
    assert dataset.load_latents(tmp_path / "out" / dataset.LATENTS, __import__("torch").float32, "cpu").shape[1] == 4


def test_coco_missing_latents_and_bad_zip_are_one_line(tmp_path):
    raw = coco_raw(tmp_path)
    (raw / "latents.pt").unlink()
    with pytest.raises(UsageError) as e:
        prepare("sdxl", raw, tmp_path / "out")
    one_line(e, "latents.pt", "text_to_image/tools/latents.pt")
    z = raw / "datasets" / "coco2014" / "annotations_trainval2014.zip"
    z.write_bytes(b"not a zip")
    with pytest.raises(UsageError) as e:
        prepare("sdxl", raw, tmp_path / "out2")
    one_line(e, str(z))


# -- KiTS19 (3d-unet) --------------------------------------------------------------------------------------------
def test_kits19_cases_become_the_preprocessed_layout(tmp_path):
    pytest.importorskip("nibabel")
    from mlperf_harness.workloads.unet3d.dataset import read_file_list
    from tests.harness.test_unet3d_preprocess import write_case

    raw = tmp_path / "kits19"
    for n in (3, 1):
        image = np.full((32, 40, 48), 50.0, np.float32)
        write_case(raw / "data", f"case_{n:05d}", image, np.zeros((32, 40, 48), np.uint8), (3.2, 1.6, 1.6))
    s = prepare("3d-unet-99", raw, tmp_path / "out", count=1)
    assert s == {"samples": 1, "layout": "preprocessed_files.pkl", "source": "data"}
    host_accepts("3d-unet-99", tmp_path / "out")
    assert read_file_list(tmp_path / "out")[0] == ["case_00001"]
    (raw / "data" / "case_00003" / "segmentation.nii.gz").unlink()
    with pytest.raises(UsageError) as e:
        prepare("3d-unet-99", raw, tmp_path / "out2")
    one_line(e, "case_00003/segmentation.nii.gz")


# -- the command -------------------------------------------------------------------------------------------------
def test_prepare_command_prints_the_summary_last_and_refuses_bad_input(tmp_path, capsys):
    raw = imagenet_raw(tmp_path, n=2)
    assert cli.main(["prepare", "--model", "resnet50", "--raw", str(raw), "--dest", str(tmp_path / "out")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(SUMMARY_PREFIX) and json.loads(last[len(SUMMARY_PREFIX):])["samples"] == 2
    assert cli.main(["prepare", "--model", "bert-99", "--raw", str(raw), "--dest", str(tmp_path / "b")]) == 2
    assert "bert-99 declares no dataset preparer" in capsys.readouterr().err
    assert cli.main(["prepare", "--model", "resnet50", "--raw", str(tmp_path / "nope"), "--dest", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope is not a folder" in err


def test_every_declared_preparer_resolves():
    """Each declared hook names a function taking (raw, dest, model, count), whoever wrote it."""
    import inspect

    for w in workloads.declarations():
        for hook in (w.dataset_preparer, w.checkpoint_preparer):
            if hook:
                assert list(inspect.signature(workloads.base.load(hook)).parameters)[:4] == [
                    "raw", "dest", "model", "count"], hook
    assert all(workloads.get(m).dataset_preparer for m in ("resnet50", "retinanet", "rnnt", "sdxl", "3d-unet-99"))
