"""`mlperfctl get`: fetch a model's declared sources (mlperf_harness/workloads/<family>/sources.py) into a folder.

Each file is fetched in parallel (a thread pool), into `<name>.part` beside its final name, resuming with an HTTP
Range request (If-Range on the ETag/Last-Modified the first response gave; a server whose file changed since then
sends it whole and the file restarts, saying so). A finished file is checked (size, then md5/sha256) and only then
renamed to its final name; a bad one is moved aside as `<name>.bad-<sha256 prefix>`. A file already in place that
checks out (or matches the manifest's record of it) is never fetched again. `--mirror` takes the same relative
paths from a lab's mirror URL or a local folder (copied with the same checks). What was fetched, from where, its
checksums and times go to DIR/mlperfctl-get.json.

A file whose checksum is not published is refused unless verify=False (--no-verify); it is then fetched and the
sha256 computed is recorded in the manifest, so a later `get` checks the file against that record.
A token (Source.needs == "token") is read from its environment variable at request time and sent only to the
source's own URL, as a bearer token; it is never written to the manifest or printed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from mlperf_harness.workloads.sources import Source

from .errors import UserError

MANIFEST = "mlperfctl-get.json"
CHUNK = 1 << 16
TIMEOUT = (30, 60)  # (connect, read) seconds


class FetchError(Exception):
    """One file could not be fetched; the message is one line and names the file and the fix."""


@dataclass
class Options:
    dest: Path
    mirror: str | None = None  # an http(s) URL or a local folder holding the same relative paths
    jobs: int = 4
    verify: bool = True
    env: dict = field(default_factory=lambda: dict(os.environ))
    say: Callable[[str], None] = print  # one line for a person (restarts, skips, moved-aside files)


# -- choosing and checking what to fetch ---------------------------------------------------------------------------
def select(model: str, sources: Iterable[Source], backend: str | None, dataset: bool, checkpoint: bool,
           where: str) -> list[Source]:
    """The sources `get` fetches: the dataset's and/or the checkpoints (of one backend when given)."""
    sources = list(sources)
    kinds = {"dataset", "checkpoint"} if dataset == checkpoint else {"dataset" if dataset else "checkpoint"}
    if backend is not None:
        backends = sorted({b for s in sources for b in s.backends})
        if backend not in backends:
            raise UserError(f"--backend {backend}: {model} declares no model file for it in {where} "
                            f"(choose: {', '.join(backends) or 'none declared'})")
    chosen = [s for s in sources if s.kind in kinds and (s.kind == "dataset" or backend is None
                                                         or backend in s.backends)]
    if not chosen:
        what = "dataset" if kinds == {"dataset"} else "model file"
        raise UserError(f"{model}: no {what} source declared in {where} (drop --dataset/--checkpoint to see what is)")
    return chosen


def is_url(mirror: str | None) -> bool:
    return bool(mirror) and mirror.split("://", 1)[0] in ("http", "https")


def preflight(model: str, sources: list[Source], opts: Options, where: str) -> None:
    """Refuse, before anything is fetched, what cannot succeed: an agreement not accepted, a missing token, a
    file that cannot be verified (unless --no-verify), a mirror folder that does not exist."""
    if opts.mirror and not is_url(opts.mirror) and not Path(opts.mirror).is_dir():
        raise UserError(f"--mirror {opts.mirror}: no such folder (give a lab mirror's http(s) URL or a local folder "
                        f"holding the files under their relative paths)")
    for s in sources:
        if s.needs == "agreement" and not opts.mirror:
            raise UserError(f"{model}: {s.name} ({s.path}) needs its licence accepted by a person at "
                            f"{s.agreement_url}: download it there and pass the folder with --mirror DIR, "
                            f"or leave it out (--checkpoint)")
        if s.needs == "token" and not opts.mirror and not opts.env.get(s.token_env):
            raise UserError(f"{model}: {s.name} needs a token in ${s.token_env} (accept the licence at "
                            f"{s.agreement_url}, then export {s.token_env}=<your token>)")
    unverifiable = [s.path for s in sources if not s.verifiable]
    if opts.verify and unverifiable:
        raise UserError(f"{model}: {len(unverifiable)} file(s) have no published checksum in {where} "
                        f"({', '.join(unverifiable[:3])}{', ...' if len(unverifiable) > 3 else ''}): pass "
                        f"--no-verify to fetch them and record the sha256 computed in {MANIFEST}")


# -- the manifest ---------------------------------------------------------------------------------------------------
def load_manifest(dest: Path) -> dict:
    path = dest / MANIFEST
    if not path.exists():
        return {"files": {}}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data.get("files"), dict):
            raise ValueError("no 'files' object")
    except (ValueError, AttributeError) as e:
        raise UserError(f"{path}: not a manifest `get` wrote ({e}): move it aside and run again") from None
    return data


def write_manifest(dest: Path, manifest: dict) -> None:
    path = dest / MANIFEST
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


# -- one file -------------------------------------------------------------------------------------------------------
def digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def expected(s: Source, record: dict | None) -> tuple[str, str] | None:
    """(algorithm, hex) the file must match: the declaration's, else the manifest's record (--no-verify's)."""
    if s.sha256:
        return "sha256", s.sha256
    if s.md5:
        return "md5", s.md5
    if record and record.get("sha256"):
        return "recorded-sha256", record["sha256"]
    return None


def _matches(check: tuple[str, str] | None, md5: str, sha: str) -> bool:
    if check is None:
        return True
    algo, value = check
    return value == (md5 if algo == "md5" else sha)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    source: Source
    final: Path
    record: dict | None  # the manifest's entry for this path, if any
    url: str | None  # where it comes from over HTTP (None: copied from a mirror folder)
    copy_from: Path | None
    token: str | None

    @property
    def part(self) -> Path:
        return self.final.with_name(self.final.name + ".part")

    @property
    def part_meta(self) -> Path:
        return self.final.with_name(self.final.name + ".part.json")


class Fetcher:
    """Fetches jobs in a thread pool, reporting bytes through `advance(job, n)` and sizes through `sized(job, n)`."""

    def __init__(self, opts: Options, advance=lambda job, n: None, sized=lambda job, total: None):
        self.opts = opts
        self.advance = advance
        self.sized = sized
        self.stop = threading.Event()
        self._local = threading.local()

    def session(self):
        import requests

        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    # already there?
    def in_place(self, job: Job) -> dict | None:
        """The finished file's record when it is in place and checks out, else None (a bad one is moved aside)."""
        s, final, rec = job.source, job.final, job.record
        if not final.is_file():
            return None
        st = final.stat()
        if s.size is not None and st.st_size != s.size:
            self._aside(job, final, f"is {st.st_size} bytes, not the declared {s.size}")
            return None
        check = expected(s, rec)
        if (rec and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns
                and _matches(check, rec.get("md5", ""), rec.get("sha256", ""))):
            return rec  # checked when it was placed, unchanged since
        md5, sha = digests(final)
        if not _matches(check, md5, sha):
            self._aside(job, final, f"does not match its {check[0]}")
            return None
        return self._record(job, final, md5, sha, origin=(rec or {}).get("from", job.url or str(job.copy_from)),
                            fetched_at=(rec or {}).get("fetched_at", _now()), seconds=(rec or {}).get("seconds", 0))

    def _aside(self, job: Job, path: Path, why: str = "") -> Path:
        """Move a bad file out of the way as <name>.bad-<sha256 prefix>; say so when `why` is given (a failing
        fetch says it in its error instead)."""
        sha = digests(path)[1]
        bad = job.final.with_name(f"{job.final.name}.bad-{sha[:12]}")
        os.replace(path, bad)
        if why:
            self.opts.say(f"{job.final}: {why}: moved aside as {bad.name}")
        return bad

    def _record(self, job: Job, final: Path, md5: str, sha: str, origin: str, fetched_at: str,
                seconds: float) -> dict:
        st = final.stat()
        s = job.source
        return {"name": s.name, "from": origin, "url": s.url, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "md5": md5, "sha256": sha, "verified": expected(s, job.record)[0] if expected(s, job.record)
                else "unverified (sha256 recorded)", "licence": s.licence, "kind": s.kind,
                "backends": list(s.backends), "fetched_at": fetched_at, "seconds": round(seconds, 3)}

    # fetching
    def run(self, job: Job) -> dict:
        """Fetch one file to its final name; its manifest record, with "fetched" bytes; FetchError otherwise."""
        job.final.parent.mkdir(parents=True, exist_ok=True)
        done = self.in_place(job)
        if done is not None:
            self.sized(job, done["size"])
            self.advance(job, done["size"])
            return {**done, "status": "kept", "fetched": 0}
        started, t0 = _now(), time.monotonic()
        try:
            if job.copy_from is not None:
                fetched = self._copy(job)
            else:
                fetched = self._download(job)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                kept = job.part.stat().st_size if job.part.exists() else 0
                raise FetchError(f"{job.part}: disk full ({kept} bytes kept): free space on "
                                 f"{job.final.parent} and run again, it resumes") from None
            raise FetchError(f"{job.part}: {e.strerror or e}") from None
        return self._finish(job, started, time.monotonic() - t0, fetched)

    def _finish(self, job: Job, started: str, seconds: float, fetched: int) -> dict:
        s, part = job.source, job.part
        size = part.stat().st_size
        if s.size is not None and size != s.size:
            bad = self._aside(job, part)
            job.part_meta.unlink(missing_ok=True)
            raise FetchError(f"{job.final}: the file on the server differs from the declaration ({size} bytes, "
                             f"not {s.size}); kept as {bad.name}: check the source or its declaration")
        md5, sha = digests(part)
        check = expected(s, job.record)
        if not _matches(check, md5, sha):
            bad = self._aside(job, part)
            job.part_meta.unlink(missing_ok=True)
            raise FetchError(f"{job.final}: {check[0]} is {md5 if check[0] == 'md5' else sha}, not the declared "
                             f"{check[1]}; kept as {bad.name}: check the source (or the mirror) and run again")
        os.replace(part, job.final)
        job.part_meta.unlink(missing_ok=True)
        origin = job.url or str(job.copy_from)
        return {**self._record(job, job.final, md5, sha, origin, started, seconds), "status": "fetched",
                "fetched": fetched}

    def _copy(self, job: Job) -> int:
        src = job.copy_from
        if not src.is_file():
            raise FetchError(f"{src}: not in the mirror folder (it must hold {job.source.path})")
        total = src.stat().st_size
        self.sized(job, total)
        have = job.part.stat().st_size if job.part.exists() else 0
        if have > total:
            have = 0
        self.advance(job, have)
        n = 0
        with src.open("rb") as fin, job.part.open("r+b" if have else "wb") as fout:
            fin.seek(have)
            fout.seek(have)
            fout.truncate()
            while chunk := fin.read(CHUNK):
                if self.stop.is_set():
                    raise FetchError(f"{job.final}: interrupted ({have + n} bytes kept in {job.part.name})")
                fout.write(chunk)
                n += len(chunk)
                self.advance(job, len(chunk))
        return n

    def _validators(self, response) -> dict:
        return {k: response.headers[h] for k, h in (("etag", "ETag"), ("last_modified", "Last-Modified"))
                if response.headers.get(h)}

    def _download(self, job: Job) -> int:
        import requests

        meta = {}
        if job.part.exists() and job.part_meta.exists():
            try:
                meta = json.loads(job.part_meta.read_text())
            except ValueError:
                meta = {}
        have = job.part.stat().st_size if job.part.exists() else 0
        if not meta or meta.get("url") != job.url:
            have = 0  # a .part without what it came from cannot be resumed safely
        headers = {"Accept-Encoding": "identity"}
        if job.token:
            headers["Authorization"] = f"Bearer {job.token}"
        if have:
            headers["Range"] = f"bytes={have}-"
            validator = meta.get("etag") or meta.get("last_modified")
            if validator:
                headers["If-Range"] = validator
        try:
            r = self.session().get(job.url, headers=headers, stream=True, timeout=TIMEOUT)
        except requests.RequestException as e:
            host = urlsplit(job.url).netloc
            raise FetchError(f"{job.final}: cannot reach {host} ({type(e).__name__}): check the network or "
                             f"use --mirror; run again, it resumes") from None
        with r:
            if have and r.status_code == 416:
                r.close()
                self.opts.say(f"{job.final}: the server refused the resume (416): restarting it")
                job.part.unlink(missing_ok=True)
                job.part_meta.unlink(missing_ok=True)
                return self._download(job)
            self._check_status(job, r)
            now = self._validators(r)
            if have and r.status_code == 206:
                changed = [k for k in ("etag", "last_modified") if meta.get(k) and now.get(k) and meta[k] != now[k]]
                if changed or not _range_starts_at(r, have):
                    r.close()
                    self.opts.say(f"{job.final}: changed on the server since the partial download "
                                  f"({', '.join(changed) or 'range'}): restarting it")
                    job.part.unlink(missing_ok=True)
                    job.part_meta.unlink(missing_ok=True)
                    return self._download(job)
            elif have:
                reason = "changed on the server since the partial download" if any(
                    meta.get(k) and now.get(k) and meta[k] != now[k] for k in ("etag", "last_modified")
                ) else "the server sent the whole file"
                self.opts.say(f"{job.final}: {reason}: restarting it")
                have = 0
            length = r.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            s = job.source
            if total is not None and s.size is not None and total != s.size:
                raise FetchError(f"{job.final}: changed on the server: {job.url} is {total} bytes, the declaration "
                                 f"says {s.size}; check the source or its declaration ({have} bytes kept)")
            self.sized(job, total)
            self.advance(job, have)
            if not have:
                job.part_meta.write_text(json.dumps({"url": job.url, **now, "total": total}))
            n = 0
            with job.part.open("ab" if have else "wb") as f:
                try:
                    for chunk in r.iter_content(CHUNK):
                        if self.stop.is_set():
                            raise FetchError(f"{job.final}: interrupted ({have + n} bytes kept in {job.part.name})")
                        f.write(chunk)
                        n += len(chunk)
                        self.advance(job, len(chunk))
                except requests.RequestException as e:
                    raise FetchError(f"{job.final}: the connection broke after {have + n} bytes "
                                     f"({type(e).__name__}; kept in {job.part.name}): run again, it resumes") from None
        if total is not None and have + n != total:
            raise FetchError(f"{job.final}: the server sent {have + n} of {total} bytes (kept in {job.part.name}): "
                             f"run again, it resumes")
        return n

    def _check_status(self, job: Job, r) -> None:
        code = r.status_code
        if code in (200, 206):
            return
        s, shown = job.source, job.url
        if code in (401, 403) and s.needs == "token" and job.token:
            raise FetchError(f"{job.final}: the token in ${s.token_env} was refused (HTTP {code}) for {shown}: check "
                             f"it and that the licence is accepted at {s.agreement_url}")
        if code in (401, 403):
            raise FetchError(f"{job.final}: HTTP {code} {r.reason} for {shown}: the server wants credentials "
                             f"(see {s.agreement_url or s.url})")
        if code in (404, 410):
            raise FetchError(f"{job.final}: HTTP {code} {r.reason} for {shown}: the file is gone or moved; check "
                             f"--mirror or the declaration")
        raise FetchError(f"{job.final}: HTTP {code} {r.reason} for {shown}: run again later")


def _range_starts_at(r, have: int) -> bool:
    value = r.headers.get("Content-Range", "")  # bytes START-END/TOTAL
    try:
        return int(value.split()[1].split("-")[0]) == have
    except (IndexError, ValueError):
        return False


# -- all of them ----------------------------------------------------------------------------------------------------
def jobs_for(sources: list[Source], opts: Options, manifest: dict) -> list[Job]:
    out = []
    for s in sources:
        final = opts.dest / s.path
        rec = manifest["files"].get(s.path)
        if opts.mirror and not is_url(opts.mirror):
            out.append(Job(s, final, rec, None, Path(opts.mirror) / s.path, None))
        elif opts.mirror:
            out.append(Job(s, final, rec, opts.mirror.rstrip("/") + "/" + s.path, None, None))
        else:
            token = opts.env.get(s.token_env) if s.needs == "token" else None
            out.append(Job(s, final, rec, s.url, None, token))
    return out


def fetch(model: str, sources: list[Source], opts: Options, progress=None) -> dict:
    """Fetch every source (UserError, after the others finished, when any failed); the summary for --json.
    `progress`: a rich Progress to show a bar per file and a total (None: none)."""
    try:
        opts.dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--dest {opts.dest}: cannot create it ({e.strerror}): choose a folder you can write") from None
    manifest = load_manifest(opts.dest)
    jobs = jobs_for(sources, opts, manifest)
    lock = threading.Lock()
    tasks: dict[int, int] = {}
    sizes: dict[int, int | None] = {id(j): j.source.size for j in jobs}
    total_task = None
    if progress is not None:
        total_task = progress.add_task("[bold]total", total=_sum(sizes.values()))
        for j in jobs:
            tasks[id(j)] = progress.add_task(j.source.path, total=j.source.size, start=True)

    def advance(job, n):
        if progress is not None and n:
            progress.advance(tasks[id(job)], n)
            progress.advance(total_task, n)

    def sized(job, total):
        if progress is not None and total is not None:
            with lock:
                sizes[id(job)] = total
                progress.update(tasks[id(job)], total=total)
                progress.update(total_task, total=_sum(sizes.values()))

    fetcher = Fetcher(opts, advance, sized)
    results: dict[str, dict] = {}
    errors: list[str] = []

    def one(job: Job) -> None:
        try:
            rec = fetcher.run(job)
        except (FetchError, OSError) as e:
            line = str(e) if isinstance(e, FetchError) else f"{job.final}: {e.strerror or e}: check --dest"
            with lock:
                errors.append(line)
                results[job.source.path] = {"name": job.source.name, "status": "failed", "error": line}
            return
        with lock:
            results[job.source.path] = rec
            manifest["files"][job.source.path] = {k: v for k, v in rec.items() if k not in ("status", "fetched")}
            manifest["model"] = model
            manifest["updated_at"] = _now()
            write_manifest(opts.dest, manifest)

    pool = ThreadPoolExecutor(max_workers=max(1, opts.jobs), thread_name_prefix="get")
    try:
        for f in [pool.submit(one, j) for j in jobs]:
            f.result()
    except KeyboardInterrupt:
        fetcher.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    summary = {"model": model, "dest": str(opts.dest), "manifest": str(opts.dest / MANIFEST),
               "mirror": opts.mirror, "files": [{"path": j.source.path, **results.get(j.source.path, {})}
                                                for j in jobs]}
    summary["ok"] = not errors
    summary["errors"] = errors
    return summary


def raise_for(summary: dict) -> None:
    errors = summary["errors"]
    if errors:
        more = f" (and {len(errors) - 1} more failed file(s); every finished file is kept)" if len(errors) > 1 else ""
        raise UserError(errors[0] + more)


def _sum(values) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)

