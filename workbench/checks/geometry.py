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

Smooth, low-contrast images (gradient wallpapers, flat renders) give ORB few corners or none. Each
image is therefore also described after local contrast equalisation (CLAHE, :data:`EQUALISE_CLIP`
on a :data:`EQUALISE_TILES` grid), which turns faint shading into texture; the equalised features
are matched only when the plain ones do not register the pair. Either way the evidence is the
same colour-pixel comparison, which equalisation does not touch. On an almost flat image JPEG's
noise of a few grey levels is a large share of its variation: the correlation's shortfall is
scaled by the share of the variance above :data:`NOISE_FLOOR` (see
:func:`_registered_similarity`), so a re-encoded flat wallpaper is not taken for another picture.

Where neither registers the pair convincingly (too few matches on bands and soft curves, or a
few that fit a poor transform: :func:`wants_dense`), :func:`dense_similarity` aligns the two
grey images directly and compares their edges: a third signal with its own calibrated bar.

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
#: CLAHE clip limit and grid for the equalised features (smooth images: 0-9 plain ORB corners on the bench's
#: gradient wallpapers, 60-200 equalised).
EQUALISE_CLIP = 4.0
EQUALISE_TILES = 4
#: Grey levels (0-255) of pixel noise that say nothing about whether two registered images differ.
NOISE_FLOOR = 4.0
#: Dense alignment (:func:`dense_similarity`): long side and smoothing of the grey image, ECC's iterations
#: and tolerance, and how far its affine map may stray from a similarity transform (ratio of its
#: singular values; scale between 1/DENSE_SCALE and DENSE_SCALE).
DENSE_SIDE = 96
DENSE_BLUR = 1.0
DENSE_ITERATIONS = 100
DENSE_EPS = 1e-5
DENSE_SHEAR = 1.1
DENSE_SCALE = 1.5
#: Pairs whose features register with pixels correlating below this are aligned directly too: a few
#: matches on a smooth picture (17 on a rotated gradient, 0.89) can fit a poor transform.
DENSE_BELOW = 0.95


class Features(NamedTuple):
    """ORB keypoints of an image and of its mirror image: positions ``[n, 2]`` at :data:`SIDE`, descriptors
    ``[n, 32]`` (``None`` when there are none)."""

    points: np.ndarray
    descriptors: np.ndarray | None
    mirror_points: np.ndarray
    mirror_descriptors: np.ndarray | None


class Keypoints(NamedTuple):
    """:class:`Features` of an image as it is and after local contrast equalisation, and the image itself
    at :data:`REGISTER_SIDE` (RGB, float32)."""

    plain: Features
    equalised: Features
    pixels: np.ndarray


class Registration(NamedTuple):
    """Matches that agree on one transform, and the correlation of the registered pixels (``None`` when too
    few matches agree or the overlap is too small)."""

    inliers: int
    similarity: float | None


def wants_dense(found: Registration | None) -> bool:
    """Whether a pair the features registered this way (``None``: not described) is aligned directly too.

    Example:
        >>> wants_dense(Registration(4, None)), wants_dense(Registration(17, 0.89)), wants_dense(Registration(90, 0.99))
        (True, True, False)
    """
    return found is not None and (found.similarity is None or found.similarity < DENSE_BELOW)


def describe(rgb: Any) -> Keypoints | None:
    """Keypoints of an upright RGB (PIL) image, or ``None`` when it is too small to describe.

    Example:
        >>> from PIL import Image
        >>> k = describe(Image.new("RGB", (300, 200)))
        >>> describe(Image.new("RGB", (40, 30))) is None, k.plain.points.shape, k.pixels.shape
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
    equalised = cv2.createCLAHE(clipLimit=EQUALISE_CLIP, tileGridSize=(EQUALISE_TILES, EQUALISE_TILES)).apply(grey)
    small = REGISTER_SIDE / max(w, h)
    pixels = cv2.resize(np.asarray(rgb.convert("RGB")), (max(1, round(w * small)), max(1, round(h * small))),
                        interpolation=cv2.INTER_AREA)
    return Keypoints(_features(orb, grey), _features(orb, equalised), pixels.astype(np.float32))


def _features(orb: Any, grey: np.ndarray) -> Features:
    return Features(*_detect(orb, grey), *_detect(orb, np.ascontiguousarray(grey[:, ::-1])))


def _detect(orb: Any, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    found, descriptors = orb.detectAndCompute(grey, None)
    return np.array([k.pt for k in found], dtype=np.float32).reshape(-1, 2), descriptors


def register(a: Keypoints | None, b: Keypoints | None) -> Registration | None:
    """``b`` (or its mirror image, whichever more matches agree with) registered onto ``a``; ``None`` when
    either image has no description. The equalised features are tried when the plain ones leave fewer
    than :data:`MIN_INLIERS` matches agreeing.

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
    n, transform, flip = _best_fit(a.plain, b.plain)
    if n < MIN_INLIERS or transform is None:
        n, transform, flip = max((n, transform, flip), _best_fit(a.equalised, b.equalised), key=lambda t: t[0])
    if n < MIN_INLIERS or transform is None:
        return Registration(n, None)
    # Both ways (b onto a, a onto b): a rotated copy's black corners fall inside its own frame only.
    inverse = cv2.invertAffineTransform(transform)
    ways = [_registered_similarity(a.pixels, b.pixels[:, ::-1] if flip else b.pixels, transform),
            _registered_similarity(b.pixels[:, ::-1] if flip else b.pixels, a.pixels, inverse)]
    found = [w for w in ways if w is not None]
    return Registration(n, max(found) if found else None)


def _best_fit(a: Features, b: Features) -> tuple[int, np.ndarray | None, bool]:
    """Inliers and transform of ``b`` or of its mirror image (``True``) onto ``a``, whichever more agree with."""
    direct = _fit(a.points, a.descriptors, b.points, b.descriptors)
    mirrored = _fit(a.points, a.descriptors, b.mirror_points, b.mirror_descriptors)
    (n, transform), flip = max((direct, False), (mirrored, True), key=lambda t: t[0][0])
    return n, transform, flip


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
    coordinates to ``moving``'s), per colour channel centred, over the overlap.

    The shortfall from 1 is scaled by ``v / (v + NOISE_FLOOR**2)``, ``v`` the smaller of the two
    images' variances (per pixel and channel, in grey levels squared): a photo's (``v`` in the
    hundreds or thousands) is kept, while on a flat image varying by two or three levels the
    noise of a re-encode no longer reads as a different picture."""
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
    if norm <= 1e-6:
        return None
    signal = min(float((x * x).mean()), float((y * y).mean()))
    return 1.0 - (1.0 - float((x * y).sum() / norm)) * signal / (signal + NOISE_FLOOR ** 2)


def dense_similarity(a: Keypoints | None, b: Keypoints | None) -> float | None:
    """Correlation of edge strength, per colour channel, once ``b`` (or its mirror image) is aligned onto
    ``a`` by its grey levels; ``None`` when either is missing or no alignment converges.

    For smooth pictures with too few corners to match (gradient wallpapers): OpenCV's ECC
    (enhanced correlation coefficient) fits an affine map from the identity at :data:`DENSE_SIDE`
    pixels, kept only when close to a similarity transform (a crop, a small rotation). The
    evidence is not the grey levels' correlation, which two *different* smooth gradients reach
    (0.93-0.95 on the bench's wallpapers) as easily as a copy, but that of their edge strength
    (Sobel magnitude) over the overlap: where the curves and bands lie. Each colour channel's edges
    count apart, and where both images are colourful the score is at most the cosine of their
    colour parts, so one drawing in green and in red does not align into a copy. Its bar is
    calibrated separately from the registered pixels'.

    Example:
        >>> from PIL import Image
        >>> y, x = np.mgrid[0:240, 0:320]
        >>> img = Image.fromarray((120 + 80 * np.sin(x / 40.0 + np.sin(y / 50.0))).astype(np.uint8)).convert("RGB")
        >>> ref = describe(img)
        >>> round(dense_similarity(ref, describe(img.rotate(5, resample=Image.Resampling.BICUBIC))), 2) > 0.9
        True
    """
    if a is None or b is None:
        return None
    fixed, moving = _dense_image(a.pixels), _dense_image(b.pixels)
    found = [_dense(fixed, moving), _dense(fixed, np.ascontiguousarray(moving[:, ::-1]))]
    found = [f for f in found if f is not None]
    return max(found) if found else None


def _dense_image(pixels: np.ndarray) -> np.ndarray:
    """RGB pixels at :data:`DENSE_SIDE` on the long side, smoothed (float32)."""
    import cv2

    h, w = pixels.shape[:2]
    scale = DENSE_SIDE / max(w, h)
    small = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), DENSE_BLUR)


def _dense(fixed: np.ndarray, moving: np.ndarray) -> float | None:
    """The better of two ECC fits (at full size from the identity, and coarse to fine from half size:
    each converges where the other can stray), scored by :func:`_edge_agreement`."""
    import cv2

    h, w = fixed.shape[:2]
    if min(h, w) < 16:
        return None
    moving = cv2.resize(moving, (w, h), interpolation=cv2.INTER_AREA)
    grey_fixed, grey_moving = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (fixed, moving))
    scores = [_edge_agreement(fixed, moving, warp) for warp in (_ecc(grey_fixed, grey_moving, (1.0,)),
                                                               _ecc(grey_fixed, grey_moving, (0.5, 1.0)))]
    scores = [s for s in scores if s is not None]
    return max(scores) if scores else None


def _ecc(fixed: np.ndarray, moving: np.ndarray, scales: tuple[float, ...]) -> np.ndarray | None:
    """ECC's affine map of ``moving`` onto ``fixed`` (same size) from the identity, refined at each scale;
    ``None`` when it does not converge or strays from a similarity transform."""
    import cv2

    h, w = fixed.shape
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, DENSE_ITERATIONS, DENSE_EPS)
    warp = np.eye(2, 3, dtype=np.float32)
    previous = None
    for scale in scales:
        if previous is not None:
            warp[:, 2] *= scale / previous
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        a, b = (x if scale == 1.0 else cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (fixed, moving))
        try:
            _, warp = cv2.findTransformECC(a, b, warp, cv2.MOTION_AFFINE, criteria, None, 5)
        except cv2.error:  # no convergence (flat images, nothing in common)
            return None
        previous = scale
    singular = np.linalg.svd(warp[:, :2].astype(np.float64), compute_uv=False)
    if singular[0] > DENSE_SHEAR * singular[1] or not 1 / DENSE_SCALE < float(np.sqrt(singular.prod())) < DENSE_SCALE:
        return None
    return warp


def _edge_agreement(fixed: np.ndarray, moving: np.ndarray, warp: np.ndarray | None) -> float | None:
    """Correlation of edge strength (each colour channel's, stacked) over the overlap once ``moving`` is
    warped onto ``fixed``, at most the cosine of their colour parts where both are colourful."""
    import cv2

    from workbench.checks.near_rule import colour_cosine

    if warp is None:
        return None
    h, w = fixed.shape[:2]
    warped = cv2.warpAffine(moving, warp, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    cover = cv2.warpAffine(np.ones((h, w), np.float32), warp, (w, h),
                           flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    cover = cv2.erode((cover > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if cover.mean() < MIN_OVERLAP:
        return None
    x, y = _edges(fixed)[cover], _edges(warped)[cover]  # [n, 3]
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    norm = float(np.sqrt((x * x).sum() * (y * y).sum()))
    if norm <= 1e-6:
        return None
    edges = float((x * y).sum() / norm)
    # A shape drawn in green and in red on white has its edges in every channel alike; its colours differ.
    colours = colour_cosine(fixed[cover], warped[cover])
    return edges if colours is None else min(edges, colours)


def _edges(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude, per channel."""
    import cv2

    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1)
    return np.sqrt(gx * gx + gy * gy)


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
