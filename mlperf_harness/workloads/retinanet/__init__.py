"""RetinaNet (ResNeXt50-32x4d FPN) on the MLPerf OpenImages subset: the reference's facts in one place.

The figures below are those of the MLCommons reference (vision/classification_and_detection: the
openimages-800-retinanet(-onnx) datasets, PostProcessOpenImagesRetinanet and accuracy-openimages.py) and of
the MLPerf training RetinaNet whose checkpoint it runs. Standard library only (the host imports the
declaration below); the runner, dataset, backends and scorer are imported by the hooks that use them.
"""

from ..base import Workload

_HERE = __name__

SIZE = 800  # the network input is SIZE x SIZE; boxes come back in that pixel space
NUM_CLASSES = 264  # OpenImages MLPerf categories 0..263; the model's label is the category id
MEAN = (0.485, 0.456, 0.406)  # applied inside the network, after /255
STD = (0.229, 0.224, 0.225)
SCORE_THRESH = 0.05  # candidates must score above this (sigmoid)
TOPK_CANDIDATES = 1000  # best candidates kept per pyramid level before NMS
NMS_IOU = 0.5  # NMS drops a box whose IoU with a better one of its class exceeds this
DETECTIONS_PER_IMAGE = 300
BBOX_XFORM_CLIP = 4.135166556742356  # log(1000 / 16): the width/height deltas are clamped to this

ONNX_FILE = "resnext50_32x4d_fpn.onnx"  # zenodo 6617879, the reference's onnxruntime model
PTH_FILE = "retinanet_model_10.pth"  # zenodo 6605272, the training checkpoint {"model": state_dict, ...}
ONNX_INPUT = "images"  # float32 [1, 3, 800, 800], RGB in 0..1
ONNX_OUTPUTS = ("boxes", "scores", "labels")  # [D, 4] x1,y1,x2,y2 pixels; [D] float32; [D] int64
ANNOTATIONS = "annotations/openimages-mlperf.json"
IMAGES = "validation/data"

RETINANET = Workload(
    names=("retinanet",),
    family="retinanet",
    loadgen_model="retinanet",
    dataset_name="OpenImages MLPerf subset",
    dataset_files=(ANNOTATIONS, IMAGES),
    model_files={"onnxruntime": ONNX_FILE, "pytorch": PTH_FILE},
    # both backends refuse anything but fp32 (backends.create)
    support={device: {"onnxruntime": ("fp32",), "pytorch": ("fp32",)} for device in ("cpu", "cuda", "rocm")},
    scenarios=("Offline", "Server", "SingleStream", "MultiStream"),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/openimages",
    demo_model_dir="models",
    runner_class=f"{_HERE}.runner:RetinaNetRunner",
    scorer=f"{_HERE}.accuracy:command",
    dataset_check=f"{_HERE}.annotations:check_dataset",
    dataset_preparer=f"{_HERE}.prepare:prepare",  # Open Images CSVs + images -> openimages-mlperf.json, images
)
