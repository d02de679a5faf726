"""YOLO (yolo-95, yolo-99: YOLOv11-large on the MLPerf "safe" COCO 2017 subset): the reference's facts in one place.

The figures are those of the MLCommons reference (vision/classification_and_detection/yolo: yolo_loadgen.py runs
ultralytics' YOLO("yolo11l.pt").predict(path, conf=0.001) per image, answers (qsl_idx, ymin, xmin, ymax, xmax,
score, COCO category id) as float32 with coordinates divided by the original height/width, and
tools/accuracy-coco.py scores the log with pycocotools) and of ultralytics' predict defaults that run does not
change (imgsz 640, letterbox grey 114, NMS IoU 0.7, at most 300 detections, class-aware NMS).

The built-in harness runs the model exported to ONNX (`yolo export model=yolo11l.pt format=onnx [dynamic=True]`)
on onnxruntime, with the letterbox, NMS and box scaling reimplemented in numpy: the image carries no ultralytics
(AGPL-3.0) code. Standard library only (the host imports the declaration below).
"""

from ..base import Workload

_HERE = __name__

SIZE = 640  # ultralytics' default imgsz: the longer side is letterboxed to this
STRIDE = 32  # the largest stride: a rectangular (dynamic-shape) letterbox pads each side to a multiple of it
PAD_VALUE = 114  # the letterbox border's grey
CONF_THRESH = 0.001  # the reference's predict(conf=0.001)
IOU_THRESH = 0.7  # ultralytics predict's default iou
MAX_DET = 300  # predict's default max_det
MAX_NMS = 30000  # non_max_suppression: candidates kept (by score) before NMS
MAX_WH = 7680  # non_max_suppression's per-class box offset (class-aware NMS in one pass)
NUM_CLASSES = 80
REG_MAX = 16  # the detection head's DFL bins per box side
OUTPUT_ROWS = 4 + NUM_CLASSES  # output0: [N, 84, anchors]: cx, cy, w, h (input pixels), then 80 class scores
# the reference's COCO_80_TO_91: YOLO class index -> COCO category id
COCO_80_TO_91 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31,
                 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57,
                 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87,
                 88, 89, 90)

ONNX_FILE = "yolo11l.onnx"  # the reference's yolo11l.pt exported by ultralytics (input "images", output "output0")
ONNX_INPUT = "images"
ONNX_OUTPUT = "output0"
ANNOTATIONS = "annotations/instances_val2017.json"  # the reference's coco_safe/ layout (1525 images)
IMAGES = "val2017_safe"

YOLO = Workload(
    names=("yolo-99", "yolo-95"),
    family="yolo",
    loadgen_model="yolo",
    dataset_name="COCO 2017 validation, MLPerf safe subset",
    dataset_files=(ANNOTATIONS, IMAGES),
    model_files={"onnxruntime": ONNX_FILE},
    support={device: {"onnxruntime": ("fp32",)} for device in ("cpu", "cuda", "rocm")},
    scenarios=("SingleStream", "MultiStream", "Offline"),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/coco_safe",
    demo_model_dir="models",
    runner_class=f"{_HERE}.runner:YoloRunner",
    scorer=f"{_HERE}.accuracy:command",
    dataset_check=f"{_HERE}.annotations:check_dataset",
)
