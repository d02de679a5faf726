"""The framework layer: what every family does the same way with a framework, in one place per framework.

- `torch`: the torch device for --device (cpu; cuda; rocm = torch's "cuda" device on a ROCm build), never a
  silent CPU fallback, and the torch dtype of a --precision;
- `onnxruntime`: the InferenceSession for --device (its execution provider, intra-op threads, all graph
  optimisations), a one-line UsageError when the provider is missing or the session fell back to another;
- `tensorrt`: the full TensorRT or its lean runtime, whichever the image has, and what a plan file is;
- `vllm`: the engine arguments, sampling settings and LoadGen SUTs of vLLM;
- here: the fp32-only rule of the backends that run nothing else.

The modules import their framework when a function runs, so an image needs just the frameworks its families
use. A new framework (e.g. vLLM) is one more module here, used by the families that want it."""

from mlperf_harness.errors import UsageError


def require_fp32(backend: str, precision: str) -> None:
    """One-line UsageError unless precision is fp32 (backends that run nothing else)."""
    if precision != "fp32":
        raise UsageError(f"--precision {precision} is not supported by the {backend} backend", "use --precision fp32")
