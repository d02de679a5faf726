"""dlrm-v2 data path: memory-mapped day-23 files, the query aggregation, bad inputs."""

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.dlrm import DENSE_FILE, LABELS_FILE, MULTI_HOT_SIZES, QUANTILES, SPARSE_FILE, dataset


def write_day(d, n=7, labels_n=None, drop_key=None, compressed=False):
    rng = np.random.default_rng(1)
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / DENSE_FILE, rng.random((n, 13), dtype=np.float32))
    np.save(d / LABELS_FILE, (np.arange(labels_n or n) % 2).astype(np.int32).reshape(-1, 1))
    sparse = {str(k): rng.integers(0, 10, (n, h), dtype=np.int32) for k, h in enumerate(MULTI_HOT_SIZES)}
    if drop_key is not None:
        del sparse[drop_key]
    (np.savez_compressed if compressed else np.savez)(d / SPARSE_FILE, **sparse)
    return sparse


def test_sparse_members_are_memory_mapped_views_of_the_npz(tmp_path):
    sparse = write_day(tmp_path)
    for k in (0, 20, 25):
        m = dataset.npz_member(tmp_path / SPARSE_FILE, str(k))
        assert isinstance(m, np.memmap) and m.shape == (7, MULTI_HOT_SIZES[k])
        np.testing.assert_array_equal(m, sparse[str(k)])


def test_evaluation_half_of_the_day(tmp_path):
    sparse = write_day(tmp_path, n=7)
    dense, labels, sp = dataset.open_day(tmp_path)
    assert len(dense) == len(labels) == 4 and all(len(s) == 4 for s in sp)  # ceil(7 / 2)
    assert isinstance(dense.base, np.memmap) or isinstance(dense, np.memmap)
    np.testing.assert_array_equal(labels, [0, 1, 0, 1])
    np.testing.assert_array_equal(sp[20], sparse["20"][:4])


def test_query_offsets_follow_the_reference_draws():
    """The reference seeds numpy's global RNG with 123 and draws quantile indices with randint(0, 20)."""
    np.random.seed(123)
    want, at = [0], 0
    while at < 100_000:
        at = min(at + QUANTILES[np.random.randint(low=0, high=len(QUANTILES))], 100_000)
        want.append(at)
    got = dataset.query_offsets(100_000)
    np.testing.assert_array_equal(got, want)
    sizes = np.diff(got)[:-1]
    assert sizes.min() >= 100 and sizes.max() <= 700
    np.testing.assert_array_equal(dataset.query_offsets(10, fixed=4), [0, 4, 8, 10])


def test_trace_file_lines(tmp_path):
    dataset.write_trace(tmp_path / "t.txt", np.array([0, 200, 500]))
    assert (tmp_path / "t.txt").read_text() == "0, 200, 200\n200, 500, 300\n"


def test_queries_load_only_what_is_asked(tmp_path):
    write_day(tmp_path, n=600)
    q = dataset.Queries(tmp_path)
    assert q.offsets[-1] == 300 and len(q) == len(q.offsets) - 1
    q.load([0, 1])
    dense, sparse, labels, sizes = q.batch([1, 0])
    assert sizes == [q.rows(1), q.rows(0)] and len(dense) == len(labels) == sum(sizes)
    assert [s.shape[1] for s in sparse] == list(MULTI_HOT_SIZES)
    q.unload([0, 1])
    assert q.loaded == {}


def test_missing_npz_key_names_file_and_member(tmp_path):
    write_day(tmp_path, drop_key="25")
    with pytest.raises(UsageError) as e:
        dataset.open_day(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / SPARSE_FILE) in msg and "'25.npy'" in msg and "\n" not in msg


def test_dense_and_labels_count_mismatch_names_both_files(tmp_path):
    write_day(tmp_path, n=7, labels_n=9)
    with pytest.raises(UsageError) as e:
        dataset.open_day(tmp_path)
    msg = str(e.value)
    assert f"{tmp_path / LABELS_FILE} holds 9 samples" in msg and f"{tmp_path / DENSE_FILE} 7" in msg


def test_compressed_npz_is_refused(tmp_path):
    write_day(tmp_path, compressed=True)
    with pytest.raises(UsageError, match=r"member 0\.npy is compressed"):
        dataset.open_day(tmp_path)


def test_missing_dense_file(tmp_path):
    with pytest.raises(UsageError, match=r"day_23_dense\.npy does not exist"):
        dataset.open_day(tmp_path)
