"""`mlperfctl get` against a real HTTP server on 127.0.0.1 (Range, If-Range, ETag, tokens, throttling), with the
fixture sources passed through the command's hidden --sources file; and the real declarations' well-formedness."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlperf_harness.workloads import get as workload
from mlperf_harness.workloads.sources import all_sources, problems
from tests.test_disk_full import mount  # noqa: F401  (a real small tmpfs; root only)

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-token-value"


class Server:
    """Files from memory under /<path>; `etag[path]` overrides an ETag; paths under gated/ want TOKEN;
    `throttle` seconds between 64 KiB chunks; `log` records (path, range start or None, bytes sent, status)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.etag: dict[str, str] = {}
        self.throttle = 0.0
        self.log: list[tuple[str, int | None, int, int]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                if path.startswith("gated/") and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.reply(path, 401, b"no")
                if path not in server.files:
                    return self.reply(path, 404, b"not found")
                data = server.files[path]
                etag = server.etag.get(path, '"' + hashlib.md5(data).hexdigest() + '"')
                start = None
                rng = self.headers.get("Range")
                if_range = self.headers.get("If-Range")
                if rng and (if_range is None or if_range == etag):
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        return self.reply(path, 416, b"")
                body = data[start or 0:]
                self.send_response(206 if start is not None else 200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                if start is not None:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                sent = 0
                try:
                    for i in range(0, len(body), 1 << 16):
                        self.wfile.write(body[i:i + (1 << 16)])
                        sent += len(body[i:i + (1 << 16)])
                        if server.throttle:
                            time.sleep(server.throttle)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                with server.lock:
                    server.log.append((path, start, sent, 206 if start is not None else 200))

            def reply(self, path, code, body):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with server.lock:
                    server.log.append((path, None, 0, code))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def sent(self, path: str) -> int:
        with self.lock:
            return sum(n for p, _, n, _ in self.log if p == path)

    def requests(self, path: str) -> list:
        with self.lock:
            return [e for e in self.log if e[0] == path]


@pytest.fixture
def server():
    s = Server()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()
    s.thread.join(timeout=10)


def blob(n: int, seed: int = 1) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32) + b"x" * (n % 32)


def source(server, path, data=None, *, url_path=None, checksum="sha256", **extra) -> dict:
    """A fixture source for `path`, served by `server` (data=None: declared, not served)."""
    d = {"name": f"test {path}", "url": f"{server.url}/{url_path or path}", "path": path,
         "kind": "checkpoint", "backends": ["onnxruntime"], "licence": "test"}
    if data is not None:
        server.files[url_path or path] = data
        if checksum == "sha256":
            d["sha256"] = hashlib.sha256(data).hexdigest()
        elif checksum == "md5":
            d["md5"] = hashlib.md5(data).hexdigest()
        d["size"] = len(data)
        if checksum:
            d["checksum_from"] = "the test"
    return {**d, **extra}


def sources_file(tmp_path, *sources) -> Path:
    f = tmp_path / "sources.json"
    f.write_text(json.dumps({"resnet50": list(sources)}))
    return f


def get(tmp_path, sources, *args, env=None, popen=False):
    cmd = [sys.executable, "-m", "mlperfctl", "get", "--model", "resnet50", "--dest", str(tmp_path / "dest"),
           "--sources", str(sources), *args]
    e = {**os.environ, "PYTHONPATH": str(ROOT)}
    e.pop("TEST_TOKEN", None)
    e.update(env or {})
    if popen:
        return subprocess.Popen(cmd, env=e, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=e, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def one_error_line(r) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def manifest(tmp_path) -> dict:
    return json.loads((tmp_path / "dest" / "mlperfctl-get.json").read_text())


# -- fetching ---------------------------------------------------------------------------------------------------------
def test_fetches_verifies_records_and_never_fetches_a_finished_file_again(tmp_path, server):
    a, b = blob(300_000, 1), blob(5_000, 2)
    src = sources_file(tmp_path, source(server, "models/a.onnx", a),
                       source(server, "datasets/b.bin", b, checksum="md5", kind="dataset", backends=[]))
    r = get(tmp_path, src, "--jobs", "2", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert [f["status"] for f in summary["files"]] == ["fetched", "fetched"]
    dest = tmp_path / "dest"
    assert (dest / "models/a.onnx").read_bytes() == a and (dest / "datasets/b.bin").read_bytes() == b
    assert not list(dest.rglob("*.part*"))
    m = manifest(tmp_path)["files"]
    assert m["models/a.onnx"]["sha256"] == hashlib.sha256(a).hexdigest()
    assert m["models/a.onnx"]["verified"] == "sha256" and m["datasets/b.bin"]["verified"] == "md5"
    assert m["models/a.onnx"]["from"] == f"{server.url}/models/a.onnx" and m["models/a.onnx"]["fetched_at"]
    served = server.sent("models/a.onnx")
    assert served == len(a)

    again = get(tmp_path, src, "--json")
    assert again.returncode == 0, again.stderr
    assert [f["status"] for f in json.loads(again.stdout)["files"]] == ["kept", "kept"]
    assert server.sent("models/a.onnx") == served and len(server.requests("models/a.onnx")) == 1


def test_a_killed_get_resumes_without_fetching_finished_bytes_again(tmp_path, server):
    big, small = blob(3_000_000, 3), blob(10_000, 4)
    src = sources_file(tmp_path, source(server, "models/big.onnx", big), source(server, "models/small.onnx", small))
    server.throttle = 0.05  # 64 KiB per 50 ms: about 2.3 s for the big file
    p = get(tmp_path, src, "--jobs", "2", popen=True)
    part = tmp_path / "dest/models/big.onnx.part"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 500_000):
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=30)
    kept = part.stat().st_size
    assert 0 < kept < len(big)
    assert not (tmp_path / "dest/models/big.onnx").exists()  # the partial file never has the final name
    assert (tmp_path / "dest/models/small.onnx").read_bytes() == small  # finished before the kill
    small_served = server.sent("models/small.onnx")

    server.throttle = 0
    r = get(tmp_path, src, "--json")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dest/models/big.onnx").read_bytes() == big
    resumed = server.requests("models/big.onnx")[-1]
    assert resumed[1] == kept and resumed[2] == len(big) - kept and resumed[3] == 206  # only the missing bytes
    assert server.sent("models/small.onnx") == small_served  # the finished file was not fetched again
    status = {f["path"]: f["status"] for f in json.loads(r.stdout)["files"]}
    assert status == {"models/big.onnx": "fetched", "models/small.onnx": "kept"}


def test_a_part_whose_file_changed_on_the_server_restarts_and_says_so(tmp_path, server):
    data = blob(200_000, 5)
    src = sources_file(tmp_path, source(server, "models/m.onnx", data))
    dest = tmp_path / "dest/models"
    dest.mkdir(parents=True)
    (dest / "m.onnx.part").write_bytes(b"stale bytes of an older file")
    (dest / "m.onnx.part.json").write_text(json.dumps({"url": f"{server.url}/models/m.onnx", "etag": '"old"'}))
    r = get(tmp_path, src)
    assert r.returncode == 0, r.stderr
    assert "changed on the server since the partial download: restarting" in r.stderr
    assert (dest / "m.onnx").read_bytes() == data
    assert server.requests("models/m.onnx")[-1][1:] == (None, len(data), 200)


def test_a_corrupted_file_is_refused_and_kept_aside(tmp_path, server):
    good, served = blob(100_000, 6), blob(100_000, 7)
    s = source(server, "models/c.onnx", good)
    server.files["models/c.onnx"] = served  # the server now sends other bytes of the same size
    r = get(tmp_path, sources_file(tmp_path, s))
    line = one_error_line(r)
    bad = tmp_path / f"dest/models/c.onnx.bad-{hashlib.sha256(served).hexdigest()[:12]}"
    assert "sha256 is" in line and bad.name in line
    assert bad.read_bytes() == served
    assert not (tmp_path / "dest/models/c.onnx").exists()
    assert not (tmp_path / "dest/models/c.onnx.part").exists()


def test_a_size_that_differs_from_the_declaration_is_one_line(tmp_path, server):
    s = source(server, "models/d.onnx", blob(50_000, 8))
    s["size"] = 60_000
    line = one_error_line(get(tmp_path, sources_file(tmp_path, s)))
    assert "changed on the server" in line and "60000" in line and "50000" in line


def test_a_404_is_one_line_and_the_finished_files_are_kept(tmp_path, server):
    ok = blob(20_000, 9)
    src = sources_file(tmp_path, source(server, "models/ok.onnx", ok),
                       source(server, "models/gone.onnx", sha256="0" * 64, checksum_from="the test"))
    line = one_error_line(get(tmp_path, src))
    assert "HTTP 404" in line and "models/gone.onnx" in line
    assert (tmp_path / "dest/models/ok.onnx").read_bytes() == ok
    assert "models/ok.onnx" in manifest(tmp_path)["files"]
    assert "models/gone.onnx" not in manifest(tmp_path)["files"]


# -- tokens and agreements --------------------------------------------------------------------------------------------
def gated(server):
    return source(server, "models/llm.bin", blob(10_000, 10), url_path="gated/llm.bin", needs="token",
                  token_env="TEST_TOKEN", agreement_url="https://example.org/accept")


def test_a_missing_token_is_one_line(tmp_path, server):
    line = one_error_line(get(tmp_path, sources_file(tmp_path, gated(server))))
    assert "$TEST_TOKEN" in line and "https://example.org/accept" in line
    assert server.log == []  # refused before any request


def test_a_wrong_token_is_one_line_and_never_shown(tmp_path, server):
    src = sources_file(tmp_path, gated(server))
    r = get(tmp_path, src, env={"TEST_TOKEN": "wrong-" + TOKEN})
    line = one_error_line(r)
    assert "$TEST_TOKEN was refused (HTTP 401)" in line and TOKEN not in r.stderr + r.stdout

    r = get(tmp_path, src, env={"TEST_TOKEN": TOKEN})
    assert r.returncode == 0, r.stderr
    assert TOKEN not in (tmp_path / "dest/mlperfctl-get.json").read_text() + r.stdout + r.stderr


def agreement(server, data=None):
    return source(server, "datasets/val.tar", data, kind="dataset", backends=[], needs="agreement",
                  agreement_url="https://example.org/terms",
                  **({} if data is not None else {"md5": "0" * 32, "checksum_from": "the test"}))


def test_an_agreement_source_is_refused_in_one_line_without_a_mirror(tmp_path, server):
    line = one_error_line(get(tmp_path, sources_file(tmp_path, agreement(server))))
    assert "https://example.org/terms" in line and "--mirror" in line
    assert server.log == []


# -- mirrors ----------------------------------------------------------------------------------------------------------
def test_mirror_folder_copies_with_verification(tmp_path, server):
    val, model = blob(40_000, 11), blob(30_000, 12)
    mirror = tmp_path / "mirror"
    (mirror / "datasets").mkdir(parents=True)
    (mirror / "models").mkdir()
    (mirror / "datasets/val.tar").write_bytes(val)
    (mirror / "models/m.onnx").write_bytes(b"tampered" + model[8:])
    a = agreement(server, val)
    del server.files["datasets/val.tar"]
    m = source(server, "models/m.onnx", model)
    src = sources_file(tmp_path, a, m)
    line = one_error_line(get(tmp_path, src, "--mirror", str(mirror)))
    assert "models/m.onnx" in line and "sha256" in line
    assert (tmp_path / "dest/datasets/val.tar").read_bytes() == val  # copied and verified
    assert list((tmp_path / "dest/models").glob("m.onnx.bad-*"))
    (mirror / "models/m.onnx").write_bytes(model)
    r = get(tmp_path, src, "--mirror", str(mirror), "--json")
    assert r.returncode == 0, r.stderr
    assert {f["status"] for f in json.loads(r.stdout)["files"]} == {"kept", "fetched"}
    assert manifest(tmp_path)["files"]["models/m.onnx"]["from"] == str(mirror / "models/m.onnx")
    assert server.log == []  # nothing came from the network


def test_mirror_url_takes_the_same_relative_paths(tmp_path, server):
    data = blob(70_000, 13)
    s = source(server, "models/m.onnx", data, url="https://unreachable.invalid/m.onnx")
    del server.files["models/m.onnx"]
    server.files["lab/models/m.onnx"] = data
    r = get(tmp_path, sources_file(tmp_path, s), "--mirror", f"{server.url}/lab/")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dest/models/m.onnx").read_bytes() == data
    assert server.sent("lab/models/m.onnx") == len(data)
    assert manifest(tmp_path)["files"]["models/m.onnx"]["from"] == f"{server.url}/lab/models/m.onnx"


# -- unverifiable files -----------------------------------------------------------------------------------------------
def test_an_unpublished_checksum_needs_no_verify_then_the_recorded_sha256_is_checked(tmp_path, server):
    data = blob(25_000, 14)
    src = sources_file(tmp_path, source(server, "models/u.onnx", data, checksum=None))
    line = one_error_line(get(tmp_path, src))
    assert "--no-verify" in line and server.log == []
    r = get(tmp_path, src, "--no-verify")
    assert r.returncode == 0, r.stderr
    rec = manifest(tmp_path)["files"]["models/u.onnx"]
    assert rec["sha256"] == hashlib.sha256(data).hexdigest() and rec["verified"].startswith("unverified")
    final = tmp_path / "dest/models/u.onnx"
    final.write_bytes(b"y" * len(data))  # changed behind get's back: the recorded sha256 no longer matches
    r = get(tmp_path, src, "--no-verify")
    assert r.returncode == 0, r.stderr
    assert final.read_bytes() == data and "moved aside" in r.stderr
    assert list(final.parent.glob("u.onnx.bad-*"))


# -- a full disk, for real --------------------------------------------------------------------------------------------
def test_a_full_disk_is_one_line_and_keeps_the_partial_file(tmp_path, server, mount):  # noqa: F811
    fs = mount("small", "1m")
    src = sources_file(tmp_path, source(server, "models/huge.onnx", blob(3_000_000, 15)))
    cmd = [sys.executable, "-m", "mlperfctl", "get", "--model", "resnet50", "--dest", str(fs / "dest"),
           "--sources", str(src)]
    r = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                       timeout=120)
    line = one_error_line(r)
    assert "disk full" in line and "run again, it resumes" in line
    assert (fs / "dest/models/huge.onnx.part").stat().st_size > 0


# -- the real declarations --------------------------------------------------------------------------------------------
def test_the_declared_sources_are_well_formed():
    declared = all_sources()
    assert {"resnet50", "retinanet", "bert-99", "rnnt", "3d-unet-99", "llama2-70b-99", "sdxl"} <= set(declared)
    for model, sources in declared.items():
        w = workload(model)
        assert len({s.path for s in sources}) == len(sources), model
        for s in sources:
            assert problems(s) == [], (model, s.name)
            assert s.url.startswith("https://")
            assert s.size is None or s.size > 0
            assert set(s.backends) <= set(w.model_files), (model, s.name, s.backends)
    imagenet = [s for s in declared["resnet50"] if s.kind == "dataset"]
    assert imagenet and imagenet[0].needs == "agreement" and len(imagenet[0].md5) == 32
    assert all(s.needs == "token" and s.token_env == "HF_TOKEN" for s in declared["llama2-70b-99"])


def test_problems_catches_malformed_declarations():
    from mlperf_harness.workloads.sources import Source

    bad = Source(name="x", url="http://e.org/x", path="../x", kind="checkpoint", md5="ABC", size=0,
                 needs="token")
    found = " | ".join(problems(bad))
    for what in ("not https", "relative file path", "backends", "size", "md5", "token_env", "checksum_from"):
        assert what in found


def test_readme_and_help_keep_in_step_with_the_declarations():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Getting data: `mlperfctl get`"):readme.index("## Running benchmarks")]
    for model, sources in all_sources().items():
        assert f"`mlperfctl get --model {model}" in section or f"/ {model}**" in section, model
        for s in sources:
            if not s.path.endswith(".safetensors"):
                assert f"[`{s.path}`]({s.url})" in section, s.path
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "get", "--help"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}, timeout=60)
    for option in ("--model", "--backend", "--dataset", "--checkpoint", "--dest", "--mirror", "--jobs",
                   "--no-verify", "--json"):
        assert option in r.stdout and option in section, option
    assert "--sources" not in r.stdout  # the tests' hidden option
