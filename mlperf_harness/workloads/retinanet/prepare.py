"""`prepare` for RetinaNet: the Open Images v6 validation images and box annotations -> the MLPerf subset as the
reference's tools/openimages.py (openimages_mlperf.sh) lays it out: annotations/openimages-mlperf.json (COCO
style) and the images in validation/data/.

Raw, as published (under --raw, at any depth): validation-annotations-bbox.csv and class-descriptions-boxable.csv
(what `mlperfctl get` fetches) and the images, <ImageID>.jpg (the reference fetches them from the open-images
bucket by id; put them in validation/data/ or anywhere below --raw). As the reference: the categories are the 264
MLPerf classes in their listed order (ids 0..263); the images are those holding a box of one of them, in ImageID
order (ids from 1); each box becomes an annotation in pixels (bbox [x, y, w, h], iscrowd = IsGroupOf, with the
Is* flags kept). --count keeps the first N images (the reference's --max-images draws at random instead)."""

import csv
import json
import shutil
from pathlib import Path

from ...errors import UsageError
from ...prepare import find, progress
from . import ANNOTATIONS, IMAGES

BOXES = "validation-annotations-bbox.csv"
CLASS_NAMES = "class-descriptions-boxable.csv"
BOX_COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax", "IsOccluded", "IsTruncated", "IsGroupOf",
               "IsDepiction", "IsInside")
_FLAGS = ("IsOccluded", "IsInside", "IsDepiction", "IsTruncated", "IsGroupOf")
_FIX = "fetch it again: mlperfctl get --model retinanet --dataset"
# openimages_mlperf.sh's MLPERF_CLASSES: the category id is the index
MLPERF_CLASSES = (
    "Airplane", "Antelope", "Apple", "Backpack", "Balloon", "Banana", "Barrel", "Baseball bat", "Baseball glove",
    "Bee", "Beer", "Bench", "Bicycle", "Bicycle helmet", "Bicycle wheel", "Billboard", "Book", "Bookcase", "Boot",
    "Bottle", "Bowl", "Bowling equipment", "Box", "Boy", "Brassiere", "Bread", "Broccoli", "Bronze sculpture",
    "Bull", "Bus", "Bust", "Butterfly", "Cabinetry", "Cake", "Camel", "Camera", "Candle", "Candy", "Cannon",
    "Canoe", "Carrot", "Cart", "Castle", "Cat", "Cattle", "Cello", "Chair", "Cheese", "Chest of drawers", "Chicken",
    "Christmas tree", "Coat", "Cocktail", "Coffee", "Coffee cup", "Coffee table", "Coin", "Common sunflower",
    "Computer keyboard", "Computer monitor", "Convenience store", "Cookie", "Countertop", "Cowboy hat", "Crab",
    "Crocodile", "Cucumber", "Cupboard", "Curtain", "Deer", "Desk", "Dinosaur", "Dog", "Doll", "Dolphin", "Door",
    "Dragonfly", "Drawer", "Dress", "Drum", "Duck", "Eagle", "Earrings", "Egg (Food)", "Elephant", "Falcon",
    "Fedora", "Flag", "Flowerpot", "Football", "Football helmet", "Fork", "Fountain", "French fries", "French horn",
    "Frog", "Giraffe", "Girl", "Glasses", "Goat", "Goggles", "Goldfish", "Gondola", "Goose", "Grape", "Grapefruit",
    "Guitar", "Hamburger", "Handbag", "Harbor seal", "Headphones", "Helicopter", "High heels", "Hiking equipment",
    "Horse", "House", "Houseplant", "Human arm", "Human beard", "Human body", "Human ear", "Human eye",
    "Human face", "Human foot", "Human hair", "Human hand", "Human head", "Human leg", "Human mouth", "Human nose",
    "Ice cream", "Jacket", "Jeans", "Jellyfish", "Juice", "Kitchen & dining room table", "Kite", "Lamp", "Lantern",
    "Laptop", "Lavender (Plant)", "Lemon", "Light bulb", "Lighthouse", "Lily", "Lion", "Lipstick", "Lizard", "Man",
    "Maple", "Microphone", "Mirror", "Mixing bowl", "Mobile phone", "Monkey", "Motorcycle", "Muffin", "Mug", "Mule",
    "Mushroom", "Musical keyboard", "Necklace", "Nightstand", "Office building", "Orange", "Owl", "Oyster",
    "Paddle", "Palm tree", "Parachute", "Parrot", "Pen", "Penguin", "Personal flotation device", "Piano",
    "Picture frame", "Pig", "Pillow", "Pizza", "Plate", "Platter", "Porch", "Poster", "Pumpkin", "Rabbit", "Rifle",
    "Roller skates", "Rose", "Salad", "Sandal", "Saucer", "Saxophone", "Scarf", "Sea lion", "Sea turtle", "Sheep",
    "Shelf", "Shirt", "Shorts", "Shrimp", "Sink", "Skateboard", "Ski", "Skull", "Skyscraper", "Snake", "Sock",
    "Sofa bed", "Sparrow", "Spider", "Spoon", "Sports uniform", "Squirrel", "Stairs", "Stool", "Strawberry",
    "Street light", "Studio couch", "Suit", "Sun hat", "Sunglasses", "Surfboard", "Sushi", "Swan", "Swimming pool",
    "Swimwear", "Tank", "Tap", "Taxi", "Tea", "Teddy bear", "Television", "Tent", "Tie", "Tiger", "Tin can", "Tire",
    "Toilet", "Tomato", "Tortoise", "Tower", "Traffic light", "Train", "Tripod", "Truck", "Trumpet", "Umbrella",
    "Van", "Vase", "Vehicle registration plate", "Violin", "Wall clock", "Waste container", "Watch", "Whale",
    "Wheel", "Wheelchair", "Whiteboard", "Window", "Wine", "Wine glass", "Woman", "Zebra", "Zucchini",
)


def class_labels(path: Path) -> dict[str, int]:
    """Open Images LabelName -> MLPerf category id, from class-descriptions-boxable.csv (LabelName,DisplayName)."""
    ids = {name: i for i, name in enumerate(MLPERF_CLASSES)}
    out = {}
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            if len(row) != 2:
                raise UsageError(f"{path}:{n}: expected 'LabelName,DisplayName', got {row!r}", _FIX)
            if row[1] in ids:
                out[row[0]] = ids[row[1]]
    if not out:
        raise UsageError(f"{path} names none of the 264 MLPerf classes", _FIX)
    return out


def read_boxes(path: Path, labels: dict[str, int]) -> dict[str, list[dict]]:
    """ImageID -> its boxes of MLPerf classes (rows in file order)."""
    boxes: dict[str, list[dict]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in BOX_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise UsageError(f"{path} lacks the column(s) {', '.join(missing)}", _FIX)
        for n, row in enumerate(reader, start=2):
            if row["LabelName"] not in labels:
                continue
            try:
                box = {k: float(row[k]) for k in ("XMin", "XMax", "YMin", "YMax")}
                box.update({k: int(row[k]) for k in _FLAGS})
            except (TypeError, ValueError):
                raise UsageError(f"{path}:{n}: a coordinate or flag is not a number", _FIX) from None
            box["category_id"] = labels[row["LabelName"]]
            boxes.setdefault(row["ImageID"], []).append(box)
    if not boxes:
        raise UsageError(f"{path} holds no box of the MLPerf classes", _FIX)
    return boxes


def prepare(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    import cv2

    fix = f"put {BOXES} and {CLASS_NAMES} under --raw ({_FIX})"
    boxes = read_boxes(find(raw, BOXES, what="the box annotations", fix=fix),
                       class_labels(find(raw, CLASS_NAMES, what="the class names", fix=fix)))
    ids = sorted(boxes)
    if count is not None:
        if count > len(ids):
            raise UsageError(f"--count {count} exceeds the {len(ids)} images with MLPerf boxes",
                             f"pass at most {len(ids)}")
        ids = ids[:count]
    found = {p.stem: p for p in raw.rglob("*.jpg")}
    missing = [i for i in ids if i not in found]
    if missing:
        raise UsageError(f"{len(missing)} of the {len(ids)} images are not under {raw} (first: {missing[0]}.jpg)",
                         "fetch them as openimages_mlperf.sh does (validation/<ImageID>.jpg), or --count fewer")
    (dest / IMAGES).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for n, image_id in enumerate(ids, start=1):
        src = found[image_id]
        img = cv2.imread(str(src))
        if img is None:
            raise UsageError(f"{src} is not a readable image", "fetch it again")
        h, w = img.shape[:2]
        shutil.copyfile(src, dest / IMAGES / src.name)
        images.append({"id": n, "file_name": src.name, "height": h, "width": w, "license": None, "coco_url": None})
        for b in boxes[image_id]:
            bbox = [b["XMin"] * w, b["YMin"] * h, (b["XMax"] - b["XMin"]) * w, (b["YMax"] - b["YMin"]) * h]
            annotations.append({"id": len(annotations) + 1, "image_id": n, "category_id": b["category_id"],
                                "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": b["IsGroupOf"],
                                **{k: b[k] for k in _FLAGS}})
        progress(n, len(ids), "images")
    categories = [{"id": i, "name": name, "supercategory": None} for i, name in enumerate(MLPERF_CLASSES)]
    doc = {"info": {"dataset": "openimages_mlperf", "version": "v6"}, "licenses": [], "categories": categories,
           "images": images, "annotations": annotations}
    (dest / ANNOTATIONS).parent.mkdir(parents=True, exist_ok=True)
    (dest / ANNOTATIONS).write_text(json.dumps(doc))
    return {"samples": len(images), "boxes": len(annotations), "layout": ANNOTATIONS}
