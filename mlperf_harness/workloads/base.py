"""The Workload interface.

A `Workload` is what one benchmark (or a group of benchmarks that differ only in their accuracy target, such as
gptj-99 and gptj-99.9) declares as plain data: its model names, family, dataset layout, model file per backend,
the backends and precisions it supports per device, its scenarios, its accuracy command and demo-data writer.
The host (mlperfctl) imports these declarations for preflight and planning, so this module and every family's
declaration (workloads/<family>/__init__.py) use the standard library only; the code that needs numpy, torch or
LoadGen is imported when a hook runs.

A `Runner` is one `run` of a workload: the run skeleton (mlperf_harness.run) calls its hooks in order
(check, prepare, load, warm_up, answerer, facts, metric, performance/score); a family subclasses it in
workloads/<family>/runner.py and overrides what differs, in the spirit of repo2docker's build packs.
"""

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_harness.errors import UsageError

DEVICES = ("cpu", "cuda", "rocm")
BACKENDS = ("onnxruntime", "pytorch", "tensorrt", "tflite", "tf", "vllm")
SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream", "Interactive")  # Interactive: a LoadGen Server run
# the accuracy command most families take (Workload.accuracy_args' default)
ACCURACY_ARGS = ("accuracy", "--model", "{model}", "--mlperf-accuracy-file", "{accuracy_log}", "--dataset-dir",
                 "{dataset_dir}")  # fmt: skip


def load(ref: str):
    """The object a "module:name" reference names, imported now."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True, eq=False)
class Workload:
    names: tuple[str, ...]  # the model names it serves (`--model`)
    family: str  # its folder under mlperf_harness/workloads/
    loadgen_model: str  # its model key in LoadGen's embedded mlperf.conf
    dataset_name: str
    dataset_files: tuple[str, ...]  # files and folders that must exist under --dataset-dir
    model_files: Mapping[str, str]  # backend -> the model file or folder under --model-path
    support: Mapping[str, Mapping[str, tuple[str, ...]]]  # device -> backend -> precisions the code runs
    scenarios: tuple[str, ...]  # the LoadGen scenarios it can run
    demo_writer: str  # "module:function" writing demo assets: function(out_dir: Path, count: int, seed: int)
    demo_dataset_dir: str  # where demo-data puts the dataset, relative to its output dir (--dataset-dir)
    demo_model_dir: str  # where it puts the model files (--model-path)
    runner_class: str  # "module:Class" of the family's Runner
    scorer: str  # "module:function" of the family's `accuracy` command: function(args) -> exit code
    # optional "module:function" checking the dataset dir before any container starts, on the host, so standard
    # library only: function(dataset_dir: Path, count: int | None), raising UsageError (e.g. a file it names is
    # missing); "" when dataset_files are all the host can check
    dataset_check: str = ""
    # backend -> "module:function" checking the model file or folder on the host before any container starts
    # (standard library only): function(model_path: Path), raising UsageError (vllm: not a loadable checkpoint;
    # whisper: a checkpoint of another architecture); a backend missing here gets the host's existence checks only
    model_checks: Mapping[str, str] = field(default_factory=dict)
    # `python -m mlperf_harness` arguments that score an accuracy log; {model}, {accuracy_log}, {dataset_dir},
    # {model_path} are filled in by accuracy_argv(). Default: the model, the log and the dataset
    accuracy_args: tuple[str, ...] = ACCURACY_ARGS
    # the backends whose model (model_files[backend]) is a folder, such as a Hugging Face checkpoint: --model-path
    # may name it whatever it is called. Every other backend's model is a file: --model-path names it, or a folder
    # holding it under its model_files name (a folder without it is refused on the host)
    model_folders: tuple[str, ...] = ()
    # backend -> {file name: required} of the files the backend reads beside its model file (bert on pytorch:
    # bert_config.json when there is one); the host mounts those present beside the model, read-only, and refuses
    # a run whose required one is missing
    model_companions: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    # `prepare` (the reference's preprocessing, run in the cell's container): "module:function" turning the raw
    # download (`mlperfctl get --dataset`) into exactly the layout `run` reads under --dataset-dir:
    # function(raw: Path, dest: Path, model: str, count: int | None) -> dict (a JSON summary: samples, files);
    # it raises UsageError naming the raw file that is missing or malformed. "" when the family has none yet
    dataset_preparer: str = ""
    # the same for the model: a published checkpoint (`mlperfctl get --checkpoint`) -> what model_file(backend)
    # names (dlrm-v2: the torchsnapshot checkpoint -> the harness's weight layout); "" when the download is used as is
    checkpoint_preparer: str = ""

    # -- what the host asks --------------------------------------------------------------------------------------
    def devices(self) -> tuple[str, ...]:
        return tuple(d for d in DEVICES if self.support.get(d))

    def backends(self, device: str) -> tuple[str, ...]:
        return tuple(self.support.get(device, {}))

    def precisions(self, device: str, backend: str) -> tuple[str, ...]:
        return tuple(self.support.get(device, {}).get(backend, ()))

    def supports(self, device: str, backend: str, precision: str) -> bool:
        return precision in self.precisions(device, backend)

    def model_file(self, backend: str) -> str:
        if backend not in self.model_files:
            raise UsageError(
                f"{self.names[0]} has no model file for the {backend} backend",
                f"use one of {', '.join(self.model_files)}",
            )
        return self.model_files[backend]

    def model_is_folder(self, backend: str) -> bool:
        """Whether the backend's model is a folder (any name) rather than a file named model_file(backend)."""
        return backend in self.model_folders

    def companions(self, backend: str) -> dict[str, bool]:
        """{file name: required} of what the backend reads beside its model file ({} for most)."""
        return dict(self.model_companions.get(backend, {}))

    def check(self, model: str, device: str, backend: str, precision: str, scenario: str | None = None) -> None:
        """UsageError naming the supported choices when this combination cannot run."""
        if model not in self.names:
            raise UsageError(f"{self.family} does not serve {model!r}", f"use one of {', '.join(self.names)}")
        if scenario is not None and scenario not in self.scenarios:
            raise UsageError(f"{model} has no {scenario} scenario", f"use one of {', '.join(self.scenarios)}")
        if device not in self.devices():
            raise UsageError(f"{model} does not run on {device}", f"use --device {' or '.join(self.devices())}")
        if backend not in self.backends(device):
            raise UsageError(
                f"{model} has no {backend} backend on {device}", f"use --backend {' or '.join(self.backends(device))}"
            )
        if not self.supports(device, backend, precision):
            raise UsageError(
                f"precision {precision!r} is not supported for {model} on {backend}/{device}",
                f"use one of {', '.join(self.precisions(device, backend))}",
            )

    def accuracy_argv(
        self, model: str, accuracy_log: str, dataset_dir: str, model_path: str = "", output: str | None = None
    ) -> list[str]:
        """The `python -m mlperf_harness ...` arguments that score accuracy_log as the run did."""
        values = {"model": model, "accuracy_log": accuracy_log, "dataset_dir": dataset_dir, "model_path": model_path}
        argv = [a.format_map(values) for a in self.accuracy_args]
        return argv + ["--output", output] if output else argv

    def check_model(self, backend: str, model_path: Path) -> None:
        """The backend's declared model check (standard library only; the host runs it in preflight)."""
        if backend in self.model_checks:
            load(self.model_checks[backend])(model_path)

    def check_dataset(self, dataset_dir: Path, count: int | None = None) -> None:
        """The declared dataset check (standard library only; the host runs it in preflight)."""
        if self.dataset_check:
            load(self.dataset_check)(dataset_dir, count)

    # -- what the harness does with it (heavy imports happen here) ---------------------------------------------
    def write_demo(self, out_dir: Path, count: int, seed: int, backend: str | None = None) -> None:
        """The demo writer's default files, or with `backend` only that backend's model file (and the data).
        A writer without a `backend` parameter writes one set of files for every backend."""
        if backend is None:
            load(self.demo_writer)(out_dir, count, seed)
            return
        if backend not in self.model_files:
            raise UsageError(
                f"--backend {backend}: {'/'.join(self.names)} has no model file for it",
                f"choose one of {', '.join(self.model_files)}",
            )
        writer = load(self.demo_writer)
        if "backend" in inspect.signature(writer).parameters:
            writer(out_dir, count, seed, backend=backend)
        else:
            writer(out_dir, count, seed)

    def runner(self, args) -> "Runner":
        return load(self.runner_class)(self, args)

    def score(self, args) -> int:
        return load(self.scorer)(args)


class Runner:
    """One `run` of a workload. The skeleton calls, in this order:

    check()              family argument checks beyond the declaration (before anything is read)
    user_conf(text)      the generated user.conf, to add lines to
    prepare()            read and check the inputs (dataset index, model path); nothing written yet
    defaults()           (threads, batch, workers)
    load(out)            after the output dir is made: the model/backend and the QSL; returns the QSL
                         (len(), load(indices), unload(indices))
    banner()             the one line printed before the test
    warm_up()            one untimed inference
    answerer()           per worker: the Answer function (see loadgen.pool); splitter(), combine, what: the
                         pool's other settings
    sut()                None (the worker pool answers LoadGen), or a SUT of the workload's own that offers what
                         the pool offers (lg, issue, flush, stop, errors): an engine with its own scheduling (vLLM)
    facts(facts)         result.json's run facts, to add the workload's own to
    framework()          {"name", "version"} of what ran the model
    metric(detail)       the main performance metric from the detail log
    performance(detail, result) / score(out, result)   mode-specific result.json fields (score: accuracy.txt,
                         which the skeleton then judges into "accuracy_verdict")

    `round` is the run's mlperf_rules.RoundChoice (--version), set by the skeleton before check(): whatever a
    family does per round reads it (its `.rules` is the round whose benchmark rules apply to the model).
    """

    test_min_queries: dict[str, int] | None = None  # test execution mode's min query count per scenario
    combine = True  # a worker may merge queued items up to max_batch
    what = "inference"  # the work's name in the first-failure line

    def __init__(self, workload: Workload, args):
        self.workload = workload
        self.a = args
        self.threads = self.batch = self.workers = 0
        self.round = None  # the run skeleton sets the RoundChoice

    @property
    def loadgen_model(self) -> str:
        return self.workload.loadgen_model

    def check(self) -> None:
        """Nothing beyond the declaration by default."""

    def user_conf(self, text: str) -> str:
        return text

    def prepare(self) -> None:
        raise NotImplementedError

    def defaults(self) -> tuple[int, int, int]:
        from mlperf_harness.loadgen import lifecycle

        return lifecycle.defaults(self.a.backend, self.a.device, self.a.threads, self.a.max_batchsize)

    def load(self, out: Path):
        raise NotImplementedError

    def banner(self) -> str:
        a = self.a
        return f"mlperf_harness: {a.model} {a.backend}/{a.device} {a.scenario} {a.mode} ({a.execution_mode})"

    def warm_up(self) -> None:
        """No warm-up by default."""

    def answerer(self):
        raise NotImplementedError

    def sut(self):
        """None: the skeleton's worker pool answers LoadGen; else the SUT object to use instead."""
        return None

    def splitter(self):
        """None: the pool cuts issued queries into max_batch slices; or (ids, indices) -> work items."""
        return None

    def facts(self, facts: dict) -> dict:
        return facts

    def framework(self) -> dict:
        raise NotImplementedError

    def metric(self, detail: dict) -> dict | None:
        from mlperf_harness.loadgen import logs

        return logs.main_metric(detail, self.a.scenario)

    def performance(self, detail: dict, result: dict) -> None:
        """Performance-mode fields beyond the shared ones: none by default."""

    def score(self, out: Path, result: dict) -> None:
        raise NotImplementedError


def insert_before(facts: dict, key: str, extra: dict) -> dict:
    """facts with extra's items placed just before key (result.json keeps its field order)."""
    out: dict = {}
    for k, v in facts.items():
        if k == key:
            out.update(extra)
        out[k] = v
    return out
