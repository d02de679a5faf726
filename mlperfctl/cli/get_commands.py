"""`mlperfctl get`: fetch a model's declared dataset and model files (mlperfctl/get.py does the work)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UserError
from .common import JsonOpt, err, out

Opt = typer.Option


def _declared(model: str, sources_file: Path | None):
    """(sources, where they are declared): the family's declaration, or the hidden --sources file's."""
    from mlperf_harness.errors import UsageError
    from mlperf_harness.workloads import get as workload
    from mlperf_harness.workloads.sources import Source, sources_for

    if sources_file is None:
        try:
            return sources_for(model), f"mlperf_harness/workloads/{workload(model).family}/sources.py"
        except UsageError as e:
            raise UserError(str(e)) from None
    try:
        data = json.loads(sources_file.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{sources_file}: cannot read a sources file ({e}): give a JSON object "
                        f"{{model: [source, ...]}}") from None
    if not isinstance(data, dict) or not isinstance(data.get(model), list):
        raise UserError(f"{sources_file}: no list of sources for {model!r}: give a JSON object {{model: [...]}}")
    try:
        return tuple(Source.from_dict(d, str(sources_file)) for d in data[model]), str(sources_file)
    except UsageError as e:
        raise UserError(str(e)) from None


def get(
    model: Annotated[str, Opt("--model", "-m", help="The model whose files to fetch (resnet50, bert-99, ...).")],
    dest: Annotated[Path, Opt("--dest", help="Where the files go, under their declared relative paths "
                                              "(datasets/..., models/...); the manifest is DIR/mlperfctl-get.json.",
                              metavar="DIR")],
    backend: Annotated[str | None, Opt("--backend", "-b", help="Only this backend's model file(s) (default: every "
                                                                "backend's).")] = None,
    dataset: Annotated[bool, Opt("--dataset", help="Only the dataset's files.")] = False,
    checkpoint: Annotated[bool, Opt("--checkpoint", help="Only the model files.")] = False,
    mirror: Annotated[str | None, Opt("--mirror", metavar="URL|DIR", help="Take the same relative paths from a "
                                      "lab's mirror (http(s) URL) or a local folder (copied and verified), "
                                      "e.g. for air-gapped sites or files behind an agreement.")] = None,
    jobs: Annotated[int, Opt("--jobs", "-j", min=1, max=64, help="Files fetched at once.")] = 4,
    no_verify: Annotated[bool, Opt("--no-verify", help="Also fetch files whose checksum is not published; the "
                                                       "sha256 computed is recorded in the manifest and "
                                                       "checked by later runs.")] = False,
    as_json: JsonOpt = False,
    sources_file: Annotated[Path | None, Opt("--sources", hidden=True, help="A JSON {model: [source, ...]} "
                                             "instead of the declarations (tests).")] = None,
):
    """Fetch a model's dataset and model files from their official sources (resumable, verified, in parallel).

    Files already in place that check out are kept; an interrupted file resumes; a file failing its checksum is
    moved aside as NAME.bad-HASH. Sources behind an agreement (ImageNet) come only from --mirror; gated ones
    (Llama 2) read their token from the environment variable the declaration names (HF_TOKEN)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from .. import get as getter

    sources, where = _declared(model, sources_file)
    chosen = getter.select(model, sources, backend, dataset, checkpoint, where)
    opts = getter.Options(dest=dest, mirror=mirror, jobs=jobs, verify=not no_verify)
    getter.preflight(model, chosen, opts, where)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        TimeRemainingColumn(), console=err, disable=as_json or not err.is_terminal)
    def say(line: str) -> None:
        progress.console.print(line, highlight=False, markup=False)

    opts.say = say
    with progress:
        summary = getter.fetch(model, chosen, opts, progress)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        for f in summary["files"]:
            if f.get("status") in ("fetched", "kept"):
                out.print(f"{f['status']:8} {f['path']}  {f['size']} bytes  {f['verified']}", highlight=False)
        if summary["ok"]:
            out.print(f"{len(summary['files'])} file(s) in {dest} (manifest: {summary['manifest']}); "
                      f"next: mlperfctl prepare --model {model} --raw {dest} --dest DIR", highlight=False)
    getter.raise_for(summary)


def register(app: typer.Typer) -> None:
    app.command()(get)
