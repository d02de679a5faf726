"""Cache writes two runs can share: containers that run at once may have the same pid."""

import threading

import pytest

from mlperf_harness.cachefile import write_atomic


def test_concurrent_writers_of_one_file_never_collide(tmp_path):
    target = tmp_path / "x.npy"
    errors, start = [], threading.Barrier(8)

    def writer(k):
        try:
            start.wait()
            for _ in range(50):
                write_atomic(target, lambda f: f.write(bytes([k]) * 4096))
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = target.read_bytes()
    assert len(data) == 4096 and len(set(data)) == 1  # one writer's whole file
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]  # no temporary left
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_no_file(tmp_path):
    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(tmp_path / "y.npy", boom)
    assert list(tmp_path.iterdir()) == []
