"""sdxl scoring on hand-made inputs with known answers: Frechet distance, CLIP arithmetic, log parsing."""

import json
import re

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.sdxl import accuracy


def test_fid_of_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 8))
    mu, sigma = a.mean(0), np.cov(a, rowvar=False)
    assert accuracy.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_fid_of_diagonal_gaussians_matches_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # ||mu1 - mu2||^2 + sum (sqrt v1 - sqrt v2)^2 = 5 + (1 + 1 + 4)
    assert accuracy.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(11.0)


def test_fid_of_rotated_covariances_matches_sqrtm_form():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + np.eye(6), b @ b.T + np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    linalg = pytest.importorskip("scipy.linalg")
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * covmean)
    assert accuracy.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_fid_with_a_singular_covariance_is_finite_and_exact():
    # rank-1 s1 = u u^T, s2 = I: tr sqrt(s1 s2) = |u|
    u = np.array([[3.0], [4.0], [0.0]])
    fid = accuracy.frechet_distance(np.zeros(3), u @ u.T, np.zeros(3), np.eye(3))
    assert fid == pytest.approx(25 + 3 - 2 * 5)


def test_fid_rejects_mismatched_feature_counts():
    with pytest.raises(UsageError, match="do not match"):
        accuracy.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def _log(path, entries):
    path.write_text(json.dumps([{"seq_id": i, "qsl_idx": q, "data": d.tobytes().hex()} for i, (q, d) in
                                enumerate(entries)]))
    return path


def test_read_images_keeps_first_response_and_infers_the_side(tmp_path):
    a = np.full((4, 4, 3), 7, np.uint8)
    b = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    images = accuracy.read_images(_log(tmp_path / "acc.json", [(1, b), (0, a), (1, a)]))
    assert sorted(images) == [0, 1]
    assert images[1].shape == (4, 4, 3) and (images[1] == b).all()


def test_read_images_rejects_non_square_data(tmp_path):
    with pytest.raises(UsageError, match="not a square RGB image"):
        accuracy.read_images(_log(tmp_path / "acc.json", [(0, np.zeros(10, np.uint8))]))


def test_accuracy_lines_parse_as_the_checker_reads_them():
    text = accuracy.lines({"CLIP_SCORE": 31.75, "FID_SCORE": 23.5})
    assert text == ["{'CLIP_SCORE': 31.75000000}", "{'FID_SCORE': 23.50000000}"]
    checker = {"CLIP_SCORE": r".*'CLIP_SCORE':\s+'?([\d.]+).*", "FID_SCORE": r".*'FID_SCORE':\s+'?([\d.]+).*"}
    found = {k: float(m.group(1)) for line in text for k, p in checker.items() if (m := re.match(p, line))}
    assert found == {"CLIP_SCORE": 31.75, "FID_SCORE": 23.5}


@pytest.mark.parametrize("clip,fid,ok", [(31.75, 23.5, True), (31.5, 23.5, False), (31.75, 24.0, False)])
def test_window(clip, fid, ok):
    """The round's CLIP/FID window, judged by the harness's one verdict from the accuracy.txt lines sdxl writes."""
    from mlperf_harness import verdict

    v = verdict.judge(verdict.choose("v6.1", "sdxl"), "sdxl", "\n".join(accuracy.lines({"CLIP_SCORE": clip,
                                                                                          "FID_SCORE": fid})))
    assert v["values"] == {"CLIP_SCORE": clip, "FID_SCORE": fid}
    assert {t["key"] for t in v["targets"]} == {"CLIP_SCORE", "FID_SCORE"}
    assert v["pass"] is ok
    assert ("FAIL" in verdict.line(v)) is not ok


@pytest.mark.slow
def test_full_width_inception_gives_2048_features():
    torch = pytest.importorskip("torch")
    from mlperf_harness.workloads.sdxl.inception import FIDInception

    model = FIDInception().eval()
    with torch.no_grad():
        assert tuple(model(torch.rand(1, 3, 64, 64)).shape) == (1, 2048)


def test_inception_load_rejects_a_foreign_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    from mlperf_harness.workloads.sdxl import inception

    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "w.pth")
    with pytest.raises(UsageError, match="not an FID Inception-v3 state dict"):
        inception.load(tmp_path / "w.pth")


def test_clip_score_is_100_times_cosine(sdxl_demo):
    torch = pytest.importorskip("torch")
    from mlperf_harness.workloads.sdxl.clip import ClipScorer

    scorer = ClipScorer(sdxl_demo / "datasets/coco2014/clip")

    class Fixed:
        def get_text_features(self, input_ids):
            return torch.tensor([[2.0, 0.0]])

        def get_image_features(self, pixel_values):
            return torch.tensor([[1.0, 1.0]])

    scorer.model = Fixed()
    assert scorer.score("a dog", np.zeros((8, 8, 3), np.uint8)) == pytest.approx(100 / np.sqrt(2))


def test_clip_preprocessing_normalizes_and_center_crops(sdxl_demo):
    pytest.importorskip("torch")
    from mlperf_harness.workloads.sdxl.clip import OPENAI_MEAN, OPENAI_STD, ClipScorer

    scorer = ClipScorer(sdxl_demo / "datasets/coco2014/clip")
    x = scorer.pixels(np.full((40, 80, 3), 255, np.uint8))
    assert tuple(x.shape) == (3, scorer.size, scorer.size)
    expected = (1.0 - np.array(OPENAI_MEAN)) / np.array(OPENAI_STD)
    assert np.allclose(x.mean(dim=(1, 2)).numpy(), expected, atol=1e-5)


def test_read_images_streams_loadgen_line_layout(tmp_path):
    a = np.full((2, 2, 3), 9, np.uint8)
    rows = [f'{{ "seq_id" : {i}, "qsl_idx" : {i}, "data" : "{a.tobytes().hex().upper()}" }}' for i in range(3)]
    (tmp_path / "acc.json").write_text("[\n" + ",\n".join(rows) + "\n]\n")
    images = accuracy.read_images(tmp_path / "acc.json")
    assert sorted(images) == [0, 1, 2] and (images[2] == a).all()


def test_read_images_rejects_broken_json(tmp_path):
    (tmp_path / "acc.json").write_text('[\n{ "seq_id" : 0, "qsl_idx" \n]\n')
    with pytest.raises(UsageError, match="not valid JSON"):
        accuracy.read_images(tmp_path / "acc.json")
