"""A small COCO detection dataset with planted label errors and a detector's predictions for it.

Eight 100x100 images, each with a cat (top left) and a dog (bottom right); the detector finds both,
within a pixel, with confidence 0.97-0.99, plus a low-confidence stray box. Three errors are planted:

- ``img1``: the cat is annotated ``dog`` (swapped; the detector says ``cat``);
- ``img2``: the cat's box is shifted 12 px right (badly located);
- ``img3``: a bird has no box (overlooked; the detector finds a ``bird``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import write_image

CATEGORIES = {1: "cat", 2: "dog", 3: "bird"}
N_IMAGES = 8


@dataclass(frozen=True)
class PlantedSet:
    root: Path
    #: COCO results entries (pixels) for every image, keyed by image id.
    results: list[dict]
    #: ``{file stem: [(label, [x, y, w, h] px, score), ...]}``: the same predictions by image.
    predictions: dict[str, list[tuple[str, list[float], float]]]


def _truth(k: int) -> list[tuple[str, list[float]]]:
    """The true objects of image ``k`` (pixels), moved a little per image."""
    d = float(k % 4)
    out = [("cat", [10 + d, 10 + d, 30, 30]), ("dog", [55 - d, 55, 35, 35])]
    if k == 3:
        out.append(("bird", [60, 10, 25, 25]))
    return out


def planted_coco(root: Path) -> PlantedSet:
    """Write ``root/data/img<k>.png`` and ``root/labels.json`` (FiftyOne's COCO layout); return the predictions."""
    images, annotations, results = [], [], []
    predictions: dict[str, list[tuple[str, list[float], float]]] = {}
    cat_ids = {v: k for k, v in CATEGORIES.items()}
    for k in range(N_IMAGES):
        name = f"img{k}.png"
        write_image(root / "data" / name, 500 + k, size=100)
        images.append({"id": k + 1, "file_name": name, "width": 100, "height": 100})
        truth = _truth(k)
        for label, box in truth:
            given_label, given_box = label, list(box)
            if k == 1 and label == "cat":
                given_label = "dog"
            if k == 2 and label == "cat":
                given_box[0] += 12
            if k == 3 and label == "bird":
                continue
            annotations.append({"id": len(annotations) + 1, "image_id": k + 1, "category_id": cat_ids[given_label],
                                "bbox": given_box, "area": given_box[2] * given_box[3], "iscrowd": 0})
        preds = [(label, [box[0] + 0.5, box[1], box[2], box[3] + 1], 0.97 + 0.01 * (n % 3))
                 for n, (label, box) in enumerate(truth)]
        preds.append(("dog", [5.0, 70.0, 12.0, 12.0], 0.2))  # a stray, unsure box
        predictions[f"img{k}"] = preds
        results += [{"image_id": k + 1, "category_id": cat_ids[label], "bbox": box, "score": score}
                    for label, box, score in preds]
    (root / "labels.json").write_text(json.dumps({
        "images": images, "annotations": annotations,
        "categories": [{"id": i, "name": n, "supercategory": "animal"} for i, n in CATEGORIES.items()]}))
    return PlantedSet(root, results, predictions)


def add_predictions_field(dataset, planted: PlantedSet, field: str = "detector") -> None:
    """The predictions as a FiftyOne ``Detections`` field (relative boxes, confidences)."""
    import fiftyone as fo

    for sample in dataset:
        preds = planted.predictions[Path(sample.filepath).stem]
        sample[field] = fo.Detections(detections=[
            fo.Detection(label=label, bounding_box=[v / 100 for v in box], confidence=score)
            for label, box, score in preds])
        sample.save()
