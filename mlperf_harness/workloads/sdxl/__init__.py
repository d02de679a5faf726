"""Stable Diffusion XL base 1.0 (MLPerf `sdxl`, mlperf.conf `stable-diffusion-xl`): text to image on COCO-2014.
The declaration; standard library only (the host imports it)."""

from ..base import Workload
from . import dataset

_HERE = __name__
_TORCH_DTYPES = ("fp32", "fp16", "bf16")  # pipeline.DTYPES; each runs on the CPU and on GPUs

SDXL = Workload(
    names=("sdxl",),
    family="sdxl",
    loadgen_model="stable-diffusion-xl",
    dataset_name="COCO 2014 captions subset",
    # captions and latents drive runs; the CLIP model, FID Inception weights and statistics score accuracy
    dataset_files=tuple(
        str(p)
        for p in (
            dataset.CAPTIONS,
            dataset.LATENTS,
            dataset.STATISTICS,
            dataset.CLIP / "config.json",
            dataset.INCEPTION,
        )
    ),
    model_files={"pytorch": "stable_diffusion_fp32"},
    model_folders=("pytorch",),
    support={device: {"pytorch": _TORCH_DTYPES} for device in ("cpu", "cuda", "rocm")},
    scenarios=("Offline", "Server", "SingleStream"),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/coco2014",
    demo_model_dir="models",
    runner_class=f"{_HERE}.runner:SdxlRunner",
    scorer=f"{_HERE}.accuracy:command",
    # annotations_trainval2014.zip + the reference's latents, statistics, CLIP and Inception -> captions.tsv layout
    dataset_preparer=f"{_HERE}.prepare:prepare",
)
