"""Geometric verification of a candidate copy: local features matched under one similarity transform,
then the pixels compared once registered.

A crop, a small rotation or a mirror image moves a photo's thumbnail (its pixels no longer line
up) but not its local structure. Each image is scaled to :data:`SIDE` pixels on its long side
and described by up to :data:`N_FEATURES` ORB keypoints (OpenCV); two images are matched with
Lowe's ratio test, and RANSAC fits one similarity transform (shift, rotation, uniform scale
between 1/2 and 2) to the matches; the mirror image is matched too. With at least
:data:`MIN_INLIERS` matches agreeing, the second image is warped onto the first and their
colour pixels are correlated over the overlap (at least :data:`MIN_OVERLAP` of the first):
the evidence is that correlation. Matching features alone is not enough: two drawings by one
author share a figure, one picture recoloured shares every corner.

Images smaller than :data:`MIN_SIDE` on their short side are not described: upscaled 28-px
thumbnails give keypoints on blur, which look-alike garments share. For them the evidence is
:func:`aligned_similarity`: their pixels at native size, aligned by shifts of up to
:data:`REACH` pixels (a one-pixel shift of a 28-px image is half a pixel of a 16-px thumbnail,
which no thumbnail alignment undoes).

Pure: pixels in, numbers out. OpenCV is imported on first use.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

#: Long side the images are scaled to before keypoints are found.
SIDE = 256
#: Images whose short side is below this are not described (no geometric evidence).
MIN_SIDE = 64
#: Keypoints kept per image.
N_FEATURES = 500
#: Lowe's ratio: a match counts when its best distance is below this share of the second best.
RATIO = 0.8
#: RANSAC's reprojection tolerance, in pixels at :data:`SIDE`.
TOLERANCE = 3.0
#: Fewer matches than this are not fitted.
MIN_MATCHES = 8
#: Shifts tried (in pixels, each way) when small images are compared pixel by pixel.
REACH = 2
#: Agreeing matches needed before the pixels are registered and compared.
MIN_INLIERS = 15
#: Long side of the colour image kept for the registered comparison.
REGISTER_SIDE = 128
#: Share of the first image the warped second one must cover.
MIN_OVERLAP = 0.3


class Keypoints(NamedTuple):
    """ORB keypoints of an image and of its mirror image (positions ``[n, 2]`` at :data:`SIDE`, descriptors
    ``[n, 32]``), and the image itself at :data:`REGISTER_SIDE` (RGB, float32)."""

    points: np.ndarray
    descriptors: np.ndarray | None
    mirror_points: np.ndarray
    mirror_descriptors: np.ndarray | None
    pixels: np.ndarray


class Registration(NamedTuple):
    """Matches that agree on one transform, and the correlation of the registered pixels (``None`` when too
    few matches agree or the overlap is too small)."""

    inliers: int
    similarity: float | None


def describe(rgb: Any) -> Keypoints | None:
    """Keypoints of an upright RGB (PIL) image, or ``None`` when it is too small to describe.

    Example:
        >>> from PIL import Image
        >>> k = describe(Image.new("RGB", (300, 200)))
        >>> describe(Image.new("RGB", (40, 30))) is None, k.points.shape, k.pixels.shape
        (True, (0, 2), (85, 128, 3))
    """
    import cv2

    w, h = rgb.size
    if min(w, h) < MIN_SIDE:
        return None
    scale = SIDE / max(w, h)
    grey = np.asarray(rgb.convert("L"))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    orb = cv2.ORB_create(nfeatures=N_FEATURES, fastThreshold=10)
    points, descriptors = _detect(orb, grey)
    mirror_points, mirror_descriptors = _detect(orb, np.ascontiguousarray(grey[:, ::-1]))
    small = REGISTER_SIDE / max(w, h)
    pixels = cv2.resize(np.asarray(rgb.convert("RGB")), (max(1, round(w * small)), max(1, round(h * small))),
                        interpolation=cv2.INTER_AREA)
    return Keypoints(points, descriptors, mirror_points, mirror_descriptors, pixels.astype(np.float32))


def _detect(orb: Any, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    found, descriptors = orb.detectAndCompute(grey, None)
    return np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2), descriptors


def register(a: Keypoints | None, b: Keypoints | None) -> Registration | None:
    """``b`` (or its mirror image, whichever more matches agree with) registered onto ``a``; ``None`` when
    either image has no description.

    Example:
        >>> from PIL import Image, ImageDraw
        >>> img = Image.new("RGB", (320, 240), "white")
        >>> draw = ImageDraw.Draw(img)
        >>> for k in range(40):
        ...     draw.rectangle((7 * k % 290, 13 * k % 200, 7 * k % 290 + 9 + k % 11, 13 * k % 200 + 5 + k % 7),
        ...                    fill=(37 * k % 256, 0, 0))
        >>> r = register(describe(img), describe(img.crop((16, 12, 304, 228))))
        >>> r.inliers > 40, r.similarity > 0.95, register(describe(img), None)
        (True, True, None)
    """
    import cv2

    if a is None or b is None:
        return None
    direct = _fit(a.points, a.descriptors, b.points, b.descriptors)
    mirrored = _fit(a.points, a.descriptors, b.mirror_points, b.mirror_descriptors)
    (n, transform), flip = max((direct, False), (mirrored, True), key=lambda t: t[0][0])
    if n < MIN_INLIERS or transform is None:
        return Registration(n, None)
    # Both ways (b onto a, a onto b): a rotated copy's black corners fall inside its own frame only.
    inverse = cv2.invertAffineTransform(transform)
    ways = [_registered_similarity(a.pixels, b.pixels[:, ::-1] if flip else b.pixels, transform),
            _registered_similarity(b.pixels[:, ::-1] if flip else b.pixels, a.pixels, inverse)]
    found = [w for w in ways if w is not None]
    return Registration(n, max(found) if found else None)


def _fit(pa: np.ndarray, da: np.ndarray | None, pb: np.ndarray, db: np.ndarray | None) -> tuple[int, np.ndarray | None]:
    import cv2

    if da is None or db is None or len(da) < MIN_MATCHES or len(db) < MIN_MATCHES:
        return 0, None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(da, db, k=2)
    good = [m[0] for m in matches if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < MIN_MATCHES:
        return 0, None
    src = pa[[m.queryIdx for m in good]]
    dst = pb[[m.trainIdx for m in good]]
    transform, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=TOLERANCE)
    if transform is None or mask is None:
        return 0, None
    scale = float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))
    return (int(mask.sum()), transform) if 0.5 < scale < 2.0 else (0, None)


def _registered_similarity(fixed: np.ndarray, moving: np.ndarray, transform: np.ndarray) -> float | None:
    """Correlation of ``fixed`` and ``moving`` warped onto it (``transform`` maps ``fixed``'s keypoint
    coordinates to ``moving``'s), per colour channel centred, over the overlap."""
    import cv2

    # Keypoints are at SIDE on each image's long side, pixels at REGISTER_SIDE: same linear part, the
    # shift scaled by their ratio.
    m = transform.astype(np.float64).copy()
    m[:, 2] *= REGISTER_SIDE / SIDE
    h, w = fixed.shape[:2]
    warped = cv2.warpAffine(np.ascontiguousarray(moving), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    cover = cv2.warpAffine(np.ones(moving.shape[:2], np.float32), m, (w, h),
                           flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0.5
    if cover.mean() < MIN_OVERLAP:
        return None
    x, y = fixed[cover], warped[cover]
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    norm = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / norm) if norm > 1e-6 else None


def aligned_similarity(a: Any, b: Any) -> float | None:
    """Normalised correlation of two upright RGB (PIL) images at the smaller one's size, the best over
    shifts of up to :data:`REACH` pixels and a mirror image; ``None`` unless one is under
    :data:`MIN_SIDE` on its short side (larger images are matched by :func:`inliers`).

    Example:
        >>> from PIL import Image
        >>> import numpy as np
        >>> x = np.zeros((28, 28, 3), np.uint8); x[6:20, 8:14] = 200; x[3:9, 15:25] = 90
        >>> shifted = np.zeros_like(x); shifted[:, 1:] = x[:, :-1]
        >>> round(aligned_similarity(Image.fromarray(x), Image.fromarray(shifted)), 3)
        1.0
    """
    from PIL import Image

    from workbench.checks.near_rule import shifted_correlation

    if min(*a.size, *b.size) >= MIN_SIDE:
        return None
    size = (min(a.size[0], b.size[0]), min(a.size[1], b.size[1]))
    x, y = (np.asarray((im if im.size == size else im.resize(size, Image.Resampling.BOX)).convert("RGB"),
                       dtype=np.float32) for im in (a, b))
    x = x - x.mean(axis=(0, 1))
    y = y - y.mean(axis=(0, 1))
    if not x.any() or not y.any():
        return 1.0 if not x.any() and not y.any() else 0.0
    return max(shifted_correlation(x, y, REACH), shifted_correlation(x, y[:, ::-1], REACH))
