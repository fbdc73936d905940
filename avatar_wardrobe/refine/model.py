"""The refiner networks in PyTorch: the small generator, the PatchGAN critic (training) and a ResNet baseline (bench)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

EXPAND = 4                   # inverted-residual expansion factor
# Channels per level of the generator: full res (head), 1/2, 1/4, 1/8.
WIDTHS = (16, 24, 48, 64)
BLOCKS = (1, 2, 3)           # inverted-residual blocks at 1/2, 1/4 and 1/8 resolution
ARCH_KEY = "_arch"           # weights files of other widths/blocks carry them under this key (int tensor)
PATCH_WIDTHS = (32, 64, 96)  # PatchGAN discriminator
RESNET_WIDTHS = (32, 64, 128)
RESNET_BLOCKS = 5            # fast-neural-style (Johnson et al. 2016): ~1.7M parameters


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (optionally strided), 1x1 project; residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = EXPAND):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            nn.Conv2d(cin, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, cout, 1))

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


def _up(x, like):
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class RefinerNet(nn.Module):
    """A small U-shaped generator that predicts a correction to its input frame.

    Input and output: (N, 3, H, W) BGR in [0, 1]. Output = input + a learned delta; the last layer
    starts at zero, so an untrained net is the identity. Any H, W work (resampling follows the skip).
    """

    def __init__(self, widths=WIDTHS, blocks=BLOCKS):
        super().__init__()
        self.widths, self.blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
        c0, c1, c2, c3 = widths
        self.stem = nn.Sequential(nn.Conv2d(3, c1, 3, 2, 1), nn.ReLU(inplace=True))
        self.enc1 = nn.Sequential(*[InvertedResidual(c1, c1) for _ in range(blocks[0])])
        self.enc2 = nn.Sequential(InvertedResidual(c1, c2, 2), *[InvertedResidual(c2, c2) for _ in range(blocks[1] - 1)])
        self.enc3 = nn.Sequential(InvertedResidual(c2, c3, 2), *[InvertedResidual(c3, c3) for _ in range(blocks[2] - 1)])
        self.fuse2 = nn.Sequential(nn.Conv2d(c3 + c2, c2, 1), nn.ReLU(inplace=True), InvertedResidual(c2, c2))
        self.fuse1 = nn.Sequential(nn.Conv2d(c2 + c1, c1, 1), nn.ReLU(inplace=True), InvertedResidual(c1, c1))
        self.head = nn.Sequential(
            nn.Conv2d(c1 + 3, c0, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c0, c0, 3, 1, 1, groups=c0), nn.ReLU(inplace=True),
            nn.Conv2d(c0, 3, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x):
        z = x * 2.0 - 1.0
        f1 = self.enc1(self.stem(z))
        f2 = self.enc2(f1)
        f3 = self.enc3(f2)
        d2 = self.fuse2(torch.cat([_up(f3, f2), f2], 1))
        d1 = self.fuse1(torch.cat([_up(d2, f1), f1], 1))
        return x + self.head(torch.cat([_up(d1, x), z], 1))


class PatchDiscriminator(nn.Module):
    """Conditional PatchGAN (pix2pix): scores overlapping ~34 px patches of (input, image) as real or refined."""

    def __init__(self, widths=PATCH_WIDTHS):
        super().__init__()
        a, b, c = widths
        self.net = nn.Sequential(
            nn.Conv2d(6, a, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(a, b, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(b, c, 4, 1, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c, 1, 4, 1, 1))

    def forward(self, x, y):
        return self.net(torch.cat([x, y], 1) * 2.0 - 1.0)


class _ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.InstanceNorm2d(c, affine=True), nn.ReLU(inplace=True),
                                  nn.Conv2d(c, c, 3, 1, 1), nn.InstanceNorm2d(c, affine=True))

    def forward(self, x):
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """The fast-neural-style class of generator (Johnson et al.), for timing comparisons only."""

    def __init__(self, widths=RESNET_WIDTHS, blocks=RESNET_BLOCKS):
        super().__init__()
        a, b, c = widths

        def cnr(cin, cout, k, s):
            return [nn.Conv2d(cin, cout, k, s, k // 2), nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True)]

        self.net = nn.Sequential(
            *cnr(3, a, 9, 1), *cnr(a, b, 3, 2), *cnr(b, c, 3, 2),
            *[_ResBlock(c) for _ in range(blocks)],
            nn.Upsample(scale_factor=2, mode="nearest"), *cnr(c, b, 3, 1),
            nn.Upsample(scale_factor=2, mode="nearest"), *cnr(b, a, 3, 1),
            nn.Conv2d(a, 3, 9, 1, 4))

    def forward(self, x):
        return torch.sigmoid(self.net(x * 2.0 - 1.0))


def arch_tensor(net: RefinerNet) -> torch.Tensor:
    """The net's widths and blocks as the int tensor stored under ARCH_KEY in its weights file."""
    return torch.tensor([*net.widths, *net.blocks], dtype=torch.int32)


def net_from_state(state: dict) -> RefinerNet:
    """A RefinerNet shaped as a weights file says (ARCH_KEY; files without it have the default shape),
    loaded with its weights as float32, in eval mode."""
    state = dict(state)
    arch = state.pop(ARCH_KEY, None)
    if arch is None:
        net = RefinerNet()
    else:
        values = [int(v) for v in arch.tolist()]
        net = RefinerNet(values[:len(WIDTHS)], values[len(WIDTHS):])
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net.eval()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
