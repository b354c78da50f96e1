"""BlindNet's two views of one crop: a mildly jittered *original* and a hard *style* view (BlindNet Sec. 4.1).

Both views share the geometry (same crop, same flip, so one label serves both); only photometry differs:

- original view: colour jitter (brightness 0.4, contrast 0.4, saturation 0.4, hue 0.1) with p = 0.5, then
  a gaussian blur with σ ~ U(0.15, 1.3) (the official script trains with ``--color_aug 0.5 --gblur``, which
  puts ``RandomGaussianBlur`` into the input transform of every training image);
- style view: colour jitter (0.8, 0.8, 0.8, 0.3) always, then a gaussian blur with σ ~ U(0.15, 1.3).

Jitter follows torchvision's ``ColorJitter``: factors ~ U(max(0, 1 − s), 1 + s) for brightness, contrast,
saturation, a hue shift ~ U(−h, h), applied in a random order. Images arrive and leave ImageNet-normalised
(``[B, 3, H, W]``, 0–255 units); the ops run on the [0, 1] image in between, values are clamped to [0, 1]
by torchvision. The blur kernel is ≈ 0.1 × the image side (:func:`~daformer_edu.uda.dacs.blur_kernel_size`).
All randomness comes from an explicit CPU ``torch.Generator``.

Taught in: notebooks/10_domain_generalization.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..uda.dacs import blur_kernel_size, colour_jitter, uniform

__all__ = ["PhotometricAugment", "ORIGINAL_VIEW", "STYLE_VIEW", "make_views"]


@dataclass(frozen=True)
class PhotometricAugment:
    """Colour jitter with probability ``jitter_p``, then gaussian blur with probability ``blur_p``.

    ``augment(images, generator) → images``, both ``[B, 3, H, W]`` normalised; draws per image.
    :data:`ORIGINAL_VIEW` and :data:`STYLE_VIEW` are BlindNet's two settings (BlindNet Sec. 4.1).

    Taught in: notebooks/10_domain_generalization.ipynb
    """

    brightness: float = 0.8
    contrast: float = 0.8
    saturation: float = 0.8
    hue: float = 0.3
    jitter_p: float = 1.0
    blur_p: float = 1.0
    blur_sigma: tuple[float, float] = (0.15, 1.3)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"PhotometricAugment: images must be [B, 3, H, W], got {tuple(images.shape)}")
        if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
            raise ValueError("PhotometricAugment: pass a CPU torch.Generator, e.g. torch.Generator().manual_seed(0)")
        g = generator
        mean = torch.tensor(IMAGENET_MEAN, device=images.device, dtype=images.dtype).view(3, 1, 1)  # [3, 1, 1]
        std = torch.tensor(IMAGENET_STD, device=images.device, dtype=images.dtype).view(3, 1, 1)  # [3, 1, 1]
        _, _, H, W = images.shape
        kernel = [blur_kernel_size(W), blur_kernel_size(H)]  # torchvision wants [kx, ky]
        out = []
        for img in images:  # [3, H, W]
            if torch.rand((), generator=g).item() < self.jitter_p:
                img = colour_jitter(img, g, mean, std, self.brightness, self.contrast, self.saturation, self.hue)
            if torch.rand((), generator=g).item() < self.blur_p:
                sigma = uniform(g, *self.blur_sigma)
                img = TF.gaussian_blur(img, kernel_size=kernel, sigma=[sigma, sigma])
            out.append(img)
        return torch.stack(out)  # [B, 3, H, W]


#: The original view: jitter (0.4, 0.4, 0.4, 0.1) with p = 0.5, then blur σ ~ U(0.15, 1.3) always (official
#: ``--color_aug 0.5 --gblur``; ``BlindNetConfig(original_blur=False)`` drops the blur, as the simpler rules do).
ORIGINAL_VIEW = PhotometricAugment(0.4, 0.4, 0.4, 0.1, jitter_p=0.5, blur_p=1.0, blur_sigma=(0.15, 1.3))
#: The style view: jitter (0.8, 0.8, 0.8, 0.3) always, then blur σ ~ U(0.15, 1.3) always.
STYLE_VIEW = PhotometricAugment(0.8, 0.8, 0.8, 0.3, jitter_p=1.0, blur_p=1.0, blur_sigma=(0.15, 1.3))


def make_views(
    images: torch.Tensor,
    generator: torch.Generator,
    original: PhotometricAugment = ORIGINAL_VIEW,
    style: PhotometricAugment = STYLE_VIEW,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(original_view, style_view)`` of one batch of crops ``[B, 3, H, W]`` (same geometry, two styles).

    The original view is drawn first, then the style view from the *clean* crop, both from ``generator``.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    return original(images, generator), style(images, generator)
