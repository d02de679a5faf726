"""yolo-99/yolo-95: no plain-file source yet (see workloads/sources.py)."""

_WHY = ("the reference fetches the COCO safe subset and yolo11l.pt with the MLCommons R2 downloader "
        "(mlcr get,dataset,mlperf-inference,yolo-coco2017-filtered / get-ml-model-yolov11); the ONNX file the "
        "harness reads is `yolo export model=yolo11l.pt format=onnx dynamic=True` of it (ultralytics, AGPL-3.0)")
SOURCES: dict = {}
UNDECLARED = {"yolo-99": _WHY, "yolo-95": _WHY}
