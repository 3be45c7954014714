"""bf16 is used only where it is native and where its measured drift from fp32 is tiny."""

import numpy as np
import torch

from workbench.embeddings import precision as prec
from workbench.embeddings.backends import _lite0_features, efficientnet_lite0_network, load_efficientnet_lite0


class _Cancelling(torch.nn.Module):
    """Features that are the difference of two nearly equal projections: bf16 rounding destroys them."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        w = torch.randn(16, 3 * 8 * 8, generator=g)
        self.a = torch.nn.Parameter(w + 1e-3 * torch.randn(16, 3 * 8 * 8, generator=g))
        self.b = torch.nn.Parameter(w.clone())

    def forward(self, x):
        flat = torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)
        return flat @ self.a.T - flat @ self.b.T


def _tiny_preprocess(img):
    from torchvision.transforms.functional import resize, to_tensor

    return to_tensor(resize(img, [32, 32]))


def _features(model, batch):
    return model(batch)


def test_fp32_requested_is_kept():
    model = _Cancelling()
    choice = prec.choose_precision(model, _features, _tiny_preprocess, device="cpu", requested="fp32", threshold=0.05)
    assert choice.precision == "fp32" and choice.model is model and choice.drift is None


def test_auto_refuses_bf16_when_drift_is_large(monkeypatch):
    monkeypatch.setattr(prec, "bf16_supported", lambda device: True)
    choice = prec.choose_precision(_Cancelling(), _features, _tiny_preprocess, device="cpu", requested="auto",
                                   threshold=0.05)
    assert choice.precision == "fp32" and choice.drift > 0.005 and "exceeds" in choice.note


def test_auto_without_native_bf16_stays_fp32(monkeypatch):
    monkeypatch.setattr(prec, "bf16_supported", lambda device: False)
    choice = prec.choose_precision(_Cancelling(), _features, _tiny_preprocess, device="cpu", requested="auto",
                                   threshold=0.05)
    assert choice.precision == "fp32" and "not native" in choice.note


def test_forced_bf16_on_real_weights_drifts_far_below_the_threshold():
    """ImageNet EfficientNet-Lite0: bf16 drift is measured and is < 10% of the 0.06 threshold; forcing it
    says that distances between images move more than auto allows."""
    choice = prec.choose_precision(efficientnet_lite0_network(), _lite0_features,
                                   load_efficientnet_lite0(precision="fp32").preprocess, device="cpu",
                                   requested="bf16", threshold=0.06)
    assert choice.precision == "bf16" and "forced although bf16 moves distances" in choice.note
    assert 0 < choice.drift < 0.006
    assert next(choice.model.parameters()).dtype == torch.bfloat16


def test_auto_refuses_bf16_that_moves_distances_between_images():
    """EfficientNet-Lite0's bf16 keeps each image within 8e-4 of fp32 but moves distances between probe images
    by ~9e-3, over 2.5% of its 0.06 threshold (a real pair moved by 0.019): auto stays fp32 and says why."""
    auto = load_efficientnet_lite0(precision="auto", runtime="torch")
    if prec.bf16_supported("cpu"):
        assert auto.precision == "fp32" and "moves distances between probe images" in auto.precision_note
    assert prec.pair_drift(np.eye(4), np.eye(4)) == 0.0
    moved = np.eye(4) + np.array([[0, 0.2, 0, 0]] + [[0] * 4] * 3)
    assert prec.bf16_refusal(1e-5, prec.pair_drift(np.eye(4), moved), 0.06).startswith("bf16 moves distances")
    assert prec.bf16_refusal(1e-5, 1e-4, 0.06) is None


def test_loaded_embedder_records_bf16_and_caches_separately():
    bf16 = load_efficientnet_lite0(precision="bf16", runtime="torch")
    fp32 = load_efficientnet_lite0(precision="fp32", runtime="torch")
    assert bf16.precision == "bf16" and bf16.bf16_drift is not None and bf16.model_id != fp32.model_id
    x = torch.stack([bf16.preprocess(img) for img in _probe_images()])
    with torch.inference_mode():
        cos = (bf16.forward(x) * fp32.forward(x)).sum(-1)
    assert float((1 - cos).max()) < 0.006


def _probe_images():
    from PIL import Image
    import numpy as np

    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)) for _ in range(4)]
