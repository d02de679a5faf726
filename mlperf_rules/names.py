"""mlperfctl's model names (the `models:` keys of matrix.yaml) and how they map to a round's benchmarks."""

from __future__ import annotations

# our name -> the checker's canonical benchmark name
OUR_MODELS = {
    "resnet50": "resnet",
    "mobilenet": "resnet",
    "efficientnet": "resnet",
    "retinanet": "retinanet",
    "bert-99": "bert-99",
    "bert-99.9": "bert-99.9",
    "3d-unet-99": "3d-unet-99",
    "3d-unet-99.9": "3d-unet-99.9",
    "rnnt": "rnnt",
    "dlrm-v2-99": "dlrm-v2-99",
    "dlrm-v2-99.9": "dlrm-v2-99.9",
    "gptj-99": "gptj-99",
    "gptj-99.9": "gptj-99.9",
    "llama2-70b-99": "llama2-70b-99",
    "llama2-70b-99.9": "llama2-70b-99.9",
    "llama3.1-8b": "llama3.1-8b",
    "llama3.1-8b-edge": "llama3.1-8b-edge",
    "sdxl": "stable-diffusion-xl",
    "rgat": "rgat",
    "yolo-95": "yolo-95",
    "yolo-99": "yolo-99",
    "whisper": "whisper",
}
# Models that stand in for a benchmark only in the open division (model_mapping.json / the checker's
# name heuristics); they have never been closed benchmarks of a round this rulebook covers.
OPEN_ONLY = frozenset({"mobilenet", "efficientnet"})


def resolve(rnd, model: str) -> str | None:
    """The round's canonical benchmark for `model`: the name itself, the round's model_mapping, or one of
    ours; None when the round has no such benchmark."""
    for name in (model, rnd.model_mapping.get(model), OUR_MODELS.get(model)):
        if name and name in rnd.models:
            return name
    return None
