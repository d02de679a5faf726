"""PyTorch: the device of --device and the dtype of --precision, the same for every family.

ROCm builds of torch drive AMD GPUs through torch's "cuda" device, so --device rocm needs such a build and
--device cuda a CUDA (non-HIP) one; a GPU asked for and not seen is a one-line UsageError, never a silent CPU run.
"""

from mlperf_harness.errors import UsageError

# --precision -> the torch dtype's name
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def device(name: str):
    """The torch.device for --device `name`, or a one-line UsageError when this torch build or host cannot
    give it."""
    import torch

    if name == "cpu":
        return torch.device("cpu")
    if name not in ("cuda", "rocm"):
        raise UsageError(f"--device {name} is not a torch device here", "use --device cpu, cuda or rocm")
    hip = getattr(torch.version, "hip", None)
    if name == "rocm" and not hip:
        raise UsageError(
            f"--device rocm: torch {torch.__version__} is not a ROCm build", "run in a ROCm image or use --device cpu"
        )
    if name == "cuda" and hip:
        raise UsageError(f"--device cuda: torch {torch.__version__} is a ROCm build", "use --device rocm")
    if not torch.cuda.is_available():
        raise UsageError(
            f"--device {name}: torch {torch.__version__} sees no GPU",
            "pass the GPU into the container (an image built for it), or use --device cpu",
        )
    return torch.device("cuda")


def dtype(precision: str, what: str, allowed: tuple[str, ...] = tuple(DTYPES)):
    """The torch dtype of --precision for `what` (the model's name in the message), one of `allowed`."""
    import torch

    if precision not in allowed:
        raise UsageError(f"--precision {precision} is not supported for {what}", f"use one of {', '.join(allowed)}")
    return getattr(torch, DTYPES[precision])
