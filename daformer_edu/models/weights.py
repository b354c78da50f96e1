"""Load ImageNet weights into :class:`~daformer_edu.models.mit.MixTransformer` from three key layouts.

The same MiT weights are published under three naming schemes. Each converter below renames a
state dict into this package's layout (``stages.{i}.patch_embed / blocks.{j} / norm``):

============  ==========================================  =============================================
format        where it comes from                          example key
============  ==========================================  =============================================
``segformer`` SegFormer's ImageNet ``mit_b*.pth``           ``block1.0.attn.kv.weight``
``hf``        HF ``transformers`` ``nvidia/mit-b*``         ``encoder.block.0.0.attention.self.key.weight``
              (checkpoint names, or the module names of     ``stages.0.blocks.0.attention.k_proj.weight``
              transformers ≥ 5), optional ``segformer.``
``timm``      timm ``pvt_v2_b*`` (same architecture when     ``stages.0.blocks.0.attn.kv.weight``
              ``mlp_ratios=[8, 8, 4, 4]``)
``mit``       this package (``MixTransformer.state_dict``)  ``stages.0.blocks.0.attn.kv.weight``
============  ==========================================  =============================================

HF stores K and V as two linears; we concatenate them into one ``kv = Linear(C, 2C)`` (K first).
Classification / decode heads in a checkpoint (``head.*``, ``classifier.*``, ``decode_head.*``) are
ignored; any other key that does not fit, or a key the encoder needs that is missing, is an error
listing the keys and naming the format.

No network access: ``source`` is a local path or an in-memory state dict.

**Whole segmentors** (encoder + decode head) load with :func:`load_segmentor_weights`, e.g. the released
DAFormer checkpoints: an mmseg file ``{"state_dict": {...}, "meta": ...}`` whose keys start with ``model.``
(the student), ``ema_model.`` (the teacher) and ``imnet_model.`` (the frozen ImageNet model of FD). Under each,
``backbone.*`` is SegFormer's MiT layout and ``decode_head.*`` the official DAFormer head's (the
``DAFormerHead`` of ``mmseg/models/decode_heads/daformer_head.py`` with ``fusion_cfg`` of type ``aspp``,
``sep=True``, mmcv ``ConvModule`` s named ``conv`` + ``bn``):

==================================================================  ===========================================
official key (under ``decode_head.``)                               this package (under ``head.``)
==================================================================  ===========================================
``embed_layers.{i}.proj.{weight,bias}`` (``MLP.proj``, a Linear)     ``embeds.{i}.{weight,bias}``
``fuse_layer.aspp_modules.{j}.conv`` / ``.bn`` (dilation 1, 1×1)      ``fusion.branches.{j}.pointwise.0`` / ``.1``
``fuse_layer.aspp_modules.{j}.depthwise_conv.conv`` / ``.bn``         ``fusion.branches.{j}.depthwise.0`` / ``.1``
``fuse_layer.aspp_modules.{j}.pointwise_conv.conv`` / ``.bn``         ``fusion.branches.{j}.pointwise.0`` / ``.1``
``fuse_layer.bottleneck.conv`` / ``.bn`` (3×3)                        ``fusion.bottleneck.0`` / ``.1``
``conv_seg.{weight,bias}``                                           ``classifier.{weight,bias}``
==================================================================  ===========================================

and ``backbone.*`` → ``encoder.*`` through :func:`convert_segformer`.

Taught in: notebooks/03_mix_ffn.ipynb
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Mapping

import torch
import torch.nn as nn

__all__ = [
    "EncoderWeightsError",
    "detect_format",
    "convert_segformer",
    "convert_hf",
    "convert_timm",
    "load_encoder_weights",
    "load_segmentor_weights",
    "load_converted_state",
]

_FORMATS = ("segformer", "hf", "timm", "mit")

# Keys of classification / segmentation heads that an encoder-only load skips, per format.
_IGNORED_PREFIXES = {
    "segformer": ("head.", "decode_head.", "auxiliary_head."),
    "hf": ("classifier.", "decode_head."),
    "timm": ("head.",),
    "mit": (),
}
# Wrappers around the encoder keys: HF task models, mmseg checkpoints, DistributedDataParallel.
_WRAPPER_PREFIXES = ("segformer.", "backbone.", "module.")


class EncoderWeightsError(ValueError):
    """A checkpoint does not fit the encoder: missing/unexpected keys or shape mismatches (names the format).

    Taught in: notebooks/03_mix_ffn.ipynb
    """


def _rename(key: str, rules: list[tuple[str, str]]) -> str:
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key)
    return key


def _stage_minus_one(m: re.Match) -> str:
    return str(int(m.group(1)) - 1)


# ---------------------------------------------------------------------------------------------- segformer
_SEGFORMER_RULES = [
    (r"^patch_embed(\d)\.", lambda m: f"stages.{_stage_minus_one(m)}.patch_embed."),
    (r"^block(\d)\.(\d+)\.", lambda m: f"stages.{_stage_minus_one(m)}.blocks.{m.group(2)}."),
    (r"^norm(\d)\.", lambda m: f"stages.{_stage_minus_one(m)}.norm."),
    (r"\.attn\.norm\.", ".attn.sr_norm."),
    (r"\.mlp\.dwconv\.dwconv\.", ".ffn.dwconv."),
    (r"\.mlp\.", ".ffn."),
]


def convert_segformer(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename SegFormer ``mit_b*.pth`` keys (``patch_embed1``, ``block1.0.attn.q``, ``norm1``) to ours.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return {_rename(k, _SEGFORMER_RULES): v for k, v in state_dict.items()}


# ---------------------------------------------------------------------------------------------- hf
_HF_RULES = [
    # checkpoint names (transformers 4.x, the files of nvidia/mit-b*)
    (r"^encoder\.patch_embeddings\.(\d)\.", r"stages.\1.patch_embed."),
    (r"^encoder\.block\.(\d)\.(\d+)\.", r"stages.\1.blocks.\2."),
    (r"^encoder\.layer_norm\.(\d)\.", r"stages.\1.norm."),
    (r"\.attention\.self\.query\.", ".attn.q."),
    (r"\.attention\.self\.key\.", ".attn.k."),
    (r"\.attention\.self\.value\.", ".attn.v."),
    (r"\.attention\.self\.sr\.", ".attn.sr."),
    (r"\.attention\.self\.layer_norm\.", ".attn.sr_norm."),
    (r"\.attention\.output\.dense\.", ".attn.proj."),
    (r"\.layer_norm_1\.", ".norm1."),
    (r"\.layer_norm_2\.", ".norm2."),
    (r"\.mlp\.dense1\.", ".ffn.fc1."),
    (r"\.mlp\.dense2\.", ".ffn.fc2."),
    # module names of transformers >= 5
    (r"^stages\.(\d)\.patch_embeddings\.layer_norm\.", r"stages.\1.patch_embed.norm."),
    (r"^stages\.(\d)\.patch_embeddings\.", r"stages.\1.patch_embed."),
    (r"^stages\.(\d)\.layer_norm\.", r"stages.\1.norm."),
    (r"\.attention\.q_proj\.", ".attn.q."),
    (r"\.attention\.k_proj\.", ".attn.k."),
    (r"\.attention\.v_proj\.", ".attn.v."),
    (r"\.attention\.o_proj\.", ".attn.proj."),
    (r"\.attention\.sequence_reduction\.sequence_reduction\.", ".attn.sr."),
    (r"\.attention\.sequence_reduction\.layer_norm\.", ".attn.sr_norm."),
    (r"\.layernorm_before\.", ".norm1."),
    (r"\.layernorm_after\.", ".norm2."),
    (r"\.mlp\.fc1\.", ".ffn.fc1."),
    (r"\.mlp\.fc2\.", ".ffn.fc2."),
    # both
    (r"\.patch_embed\.layer_norm\.", ".patch_embed.norm."),
    (r"\.mlp\.dwconv\.dwconv\.", ".ffn.dwconv."),
]


def convert_hf(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename HF Segformer encoder keys to ours and merge the separate K and V linears into ``kv``.

    ``kv.weight = cat([key.weight, value.weight])`` so the first ``C`` outputs are K, the last ``C`` are V.
    Accepts the checkpoint names (``encoder.block.0.0.attention.self.query``) and the transformers ≥ 5
    module names (``stages.0.blocks.0.attention.q_proj``); strip ``segformer.`` before calling.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    renamed = {_rename(k, _HF_RULES): v for k, v in state_dict.items()}
    out = {}
    for key, value in renamed.items():
        if ".attn.k." in key:
            v_key = key.replace(".attn.k.", ".attn.v.")
            if v_key in renamed:  # otherwise both stay, and show up as unexpected keys
                out[key.replace(".attn.k.", ".attn.kv.")] = torch.cat([value, renamed[v_key]], dim=0)
                continue
        elif ".attn.v." in key and key.replace(".attn.v.", ".attn.k.") in renamed:
            continue  # consumed together with its K
        out[key] = value
    return out


# ---------------------------------------------------------------------------------------------- timm
_TIMM_RULES = [
    (r"^patch_embed\.", "stages.0.patch_embed."),
    (r"^stages\.(\d)\.downsample\.", r"stages.\1.patch_embed."),
    (r"\.attn\.norm\.", ".attn.sr_norm."),
    (r"\.mlp\.", ".ffn."),
]


def convert_timm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename timm ``pvt_v2_b*`` keys (``patch_embed``, ``stages.1.downsample``, ``mlp``) to ours.

    The architectures coincide when the MiT is built with ``mlp_ratios=[8, 8, 4, 4]`` (PVTv2's ratios);
    the linear-attention variants (``pvt_v2_b2_li``) do not fit and fail with unexpected keys.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return {_rename(k, _TIMM_RULES): v for k, v in state_dict.items()}


_CONVERTERS: dict[str, Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]] = {
    "segformer": convert_segformer,
    "hf": convert_hf,
    "timm": convert_timm,
    "mit": dict,
}


# ---------------------------------------------------------------------------------------------- detection
def _strip_wrappers(state_dict: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str | None]:
    """Remove one ``segformer.`` / ``backbone.`` / ``module.`` prefix; keys without it (heads) stay."""
    for prefix in _WRAPPER_PREFIXES:
        if any(k.startswith(prefix) for k in state_dict):
            return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state_dict.items()}, prefix
    return dict(state_dict), None


def detect_format(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Guess the key layout of a state dict: ``"segformer"``, ``"hf"``, ``"timm"`` or ``"mit"`` (raises if none fits).

    Signatures: SegFormer ``patch_embed1.*``; HF ``encoder.patch_embeddings.*`` or
    ``stages.0.patch_embeddings.*`` (after an optional ``segformer.``); timm ``patch_embed.*`` + ``stages.*``;
    this package ``stages.0.patch_embed.*``.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    keys, _ = _strip_wrappers(state_dict)
    if any(k.startswith("encoder.patch_embeddings.") or k.startswith("stages.0.patch_embeddings.") for k in keys):
        return "hf"
    if any(k.startswith("patch_embed1.") for k in keys):
        return "segformer"
    if any(k.startswith("patch_embed.") for k in keys) and any(k.startswith("stages.") for k in keys):
        return "timm"
    if any(k.startswith("stages.0.patch_embed.") for k in keys):
        return "mit"
    sample = sorted(keys)[:8]
    raise EncoderWeightsError(
        f"detect_format: cannot tell the key layout of this state dict (first keys: {sample}). Expected SegFormer "
        "'patch_embed1.*', HF 'encoder.patch_embeddings.*' / 'stages.0.patch_embeddings.*', timm 'patch_embed.*' "
        "with 'stages.*', or this package's 'stages.0.patch_embed.*'. Pass format=... explicitly if it is one of "
        f"{_FORMATS}."
    )


def _convert_state_dict(state_dict: Mapping[str, torch.Tensor], format: str | None = None) -> dict[str, torch.Tensor]:
    """Convert any supported checkpoint to this package's encoder keys (heads dropped, wrappers stripped).

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    fmt = format or detect_format(state_dict)
    if fmt not in _CONVERTERS:
        raise ValueError(f"format={fmt!r} is not supported; use one of {_FORMATS} or None to auto-detect.")
    stripped, _ = _strip_wrappers(state_dict)
    kept = {k: v for k, v in stripped.items() if not k.startswith(_IGNORED_PREFIXES[fmt])}
    return _CONVERTERS[fmt](kept)


# ---------------------------------------------------------------------------------------------- loading
def _read(source: str | os.PathLike | Mapping) -> Mapping[str, torch.Tensor]:
    if isinstance(source, Mapping):
        state = source
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"load_encoder_weights: no file at {path!r}. Pass the path of ImageNet MiT weights you downloaded, or "
                "'hf:nvidia/mit-b5' (any nvidia/mit-b*) to fetch them from the Hugging Face Hub, or None to train from "
                "scratch."
            )
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file  # shipped with transformers

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):  # {'state_dict': {...}} as written by mmcv / training loops
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping):
        raise EncoderWeightsError(f"load_encoder_weights: {source!r} does not hold a state dict (got {type(state)}).")
    return state


def _list(keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", … ({len(keys) - limit} more)" if len(keys) > limit else "")


def _mismatch(where: str, what: str, missing: list[str], unexpected: list[str], hint: str) -> str:
    """The error text when a checkpoint's keys do not fit ``what`` (the encoder or the segmentor): lists both sides."""
    msg = [f"{where}: the checkpoint does not fit the {what}."]
    if missing:
        msg.append(
            f"{len(missing)} missing key(s) (the {what} needs them, the checkpoint lacks them): {_list(missing)}"
        )
    if unexpected:
        msg.append(f"{len(unexpected)} unexpected key(s) (the {what} has no such parameter): {_list(unexpected)}")
    return "\n".join([*msg, hint])


def _source_names(state_dict: Mapping[str, torch.Tensor], fmt: str) -> dict[str, str]:
    """Converted key -> the checkpoint's own key (after stripping a wrapper prefix), for error messages."""
    rules = {"segformer": _SEGFORMER_RULES, "hf": _HF_RULES, "timm": _TIMM_RULES, "mit": []}[fmt]
    stripped, prefix = _strip_wrappers(state_dict)
    origin = {}
    for key in stripped:
        new = _rename(key, rules)
        if fmt == "hf":
            new = new.replace(".attn.k.", ".attn.kv.").replace(".attn.v.", ".attn.kv.")
        origin.setdefault(new, prefix + key if prefix and prefix + key in state_dict else key)
    return origin


def load_encoder_weights(
    encoder: nn.Module, source: str | os.PathLike | Mapping[str, torch.Tensor], format: str | None = None
) -> nn.Module:
    """Copy ImageNet weights from ``source`` (path or state dict) into a MiT ``encoder``; returns the encoder.

    ``format`` is one of ``"segformer"``, ``"hf"``, ``"timm"`` (or ``"mit"``), or None to detect it from the
    keys. Loading is strict: a missing or unexpected key, or a shape mismatch, raises
    :class:`EncoderWeightsError` listing the keys and naming the format. Head keys are skipped.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    raw = _read(source)
    fmt = format or detect_format(raw)
    converted = _convert_state_dict(raw, fmt)
    expected = encoder.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    where = f"load_encoder_weights(format={fmt!r}"
    where += f", source={os.fspath(source)!r})" if not isinstance(source, Mapping) else ")"
    if missing or unexpected:
        origin = _source_names(raw, fmt)
        shown = [k if origin.get(k, k) == k else f"{k} (from {origin[k]})" for k in unexpected]
        raise EncoderWeightsError(
            _mismatch(
                where,
                "encoder",
                missing,
                shown,
                "Check that the encoder size (mit_b0 … mit_b5) and format match the checkpoint.",
            )
        )
    bad = [
        f"{k}: checkpoint {tuple(converted[k].shape)} vs encoder {tuple(v.shape)}"
        for k, v in expected.items()
        if converted[k].shape != v.shape
    ]
    if bad:
        hint = " (timm pvt_v2 needs mlp_ratios=[8, 8, 4, 4])" if fmt == "timm" else ""
        raise EncoderWeightsError(f"{where}: {len(bad)} shape mismatch(es){hint}: {_list(bad, 10)}")
    encoder.load_state_dict(converted, strict=True)
    return encoder


def _warn_training_from_scratch(where: str = "build_segmentor", stacklevel: int = 3) -> None:
    """Say (once per call site, via :mod:`warnings`) that the encoder starts from random weights.

    ``stacklevel`` counts from this function to the user's call of ``where`` (3: ``where`` calls this directly).

    Taught in: notebooks/04_fusion_decoder.ipynb
    """
    warnings.warn(
        f"{where}(pretrained=None): the encoder starts from random weights, so training starts from scratch. "
        "Pass pretrained='path/to/mit_b5.pth' (SegFormer, HF or timm layout) for ImageNet weights.",
        UserWarning,
        stacklevel=stacklevel,
    )


# ---------------------------------------------------------------------------------------------- segmentors
class SegmentorWeightsError(ValueError):
    """A checkpoint does not fit the segmentor: no such model in it, missing/unexpected keys, shape mismatches.

    Taught in: notebooks/09_full_uda.ipynb
    """


# The official DAFormer head (mmseg DAFormerHead, sep-ASPP fusion) → DAFormerHead, first matching rule wins.
_DAFORMER_HEAD_RULES = [
    (r"^embed_layers\.(\d+)\.proj\.", r"embeds.\1."),
    (r"^fuse_layer\.aspp_modules\.(\d+)\.conv\.", r"fusion.branches.\1.pointwise.0."),  # dilation 1: 1×1 ConvModule
    (r"^fuse_layer\.aspp_modules\.(\d+)\.bn\.", r"fusion.branches.\1.pointwise.1."),
    (r"^fuse_layer\.aspp_modules\.(\d+)\.depthwise_conv\.conv\.", r"fusion.branches.\1.depthwise.0."),
    (r"^fuse_layer\.aspp_modules\.(\d+)\.depthwise_conv\.bn\.", r"fusion.branches.\1.depthwise.1."),
    (r"^fuse_layer\.aspp_modules\.(\d+)\.pointwise_conv\.conv\.", r"fusion.branches.\1.pointwise.0."),
    (r"^fuse_layer\.aspp_modules\.(\d+)\.pointwise_conv\.bn\.", r"fusion.branches.\1.pointwise.1."),
    (r"^fuse_layer\.bottleneck\.conv\.", "fusion.bottleneck.0."),
    (r"^fuse_layer\.bottleneck\.bn\.", "fusion.bottleneck.1."),
    (r"^conv_seg\.", "classifier."),
]
# Our trainer's checkpoint (train.py Trainer.state_dict) names the teacher "teacher".
_TRAINER_MODELS = {"model": "model", "ema_model": "teacher", "teacher": "teacher"}


def _convert_daformer_head(key: str) -> str | None:
    for pattern, repl in _DAFORMER_HEAD_RULES:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    return None


def _load_file(path: str) -> object:
    if not os.path.isfile(path):
        hint = ""
        if os.path.isdir(path):
            hint = " It is a folder: pass the .pth file inside it (the official release: latest.pth)."
        raise FileNotFoundError(f"load_segmentor_weights: no checkpoint file at {path!r}.{hint}")
    if path.endswith((".tar.gz", ".tgz", ".tar", ".zip")) and not path.endswith(".pth"):
        raise SegmentorWeightsError(
            f"load_segmentor_weights: {path!r} is an archive; extract it first (tar -xzf {os.path.basename(path)}) "
            "and pass the .pth inside (the official GTA→Cityscapes release: "
            "211108_1622_gta2cs_daformer_s0_7f24c/latest.pth)."
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle of arbitrary objects: refused by weights_only
        raise SegmentorWeightsError(
            f"load_segmentor_weights: torch.load({path!r}, weights_only=True) failed: {e}\n"
            "If you trust the file, load it yourself with torch.load(path, map_location='cpu', weights_only=False) "
            "and pass the resulting dict as source (python -m daformer_edu.evaluate: --trust-checkpoint)."
        ) from e


def _prefixes(keys) -> list[str]:
    return sorted({k.split(".", 1)[0] for k in keys})


def segmentor_state_dict(
    source: str | os.PathLike | Mapping, which: str = "model"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """One model's weights from a checkpoint, renamed to :class:`EncoderDecoder`'s keys (``encoder.*``, ``head.*``).

    Returns ``(state, origin)``: ``origin`` maps every returned key to the checkpoint's own key (for error
    messages). Accepted ``source`` s (a path, or the loaded object):

    * an mmseg checkpoint ``{"state_dict": {...}, "meta": ...}`` or its bare ``state_dict``: the official UDA
      release with ``model.`` / ``ema_model.`` / ``imnet_model.`` prefixes (``which`` picks one), or a plain
      mmseg segmentor (``backbone.*``, ``decode_head.*``; only ``which="model"``);
    * this package's trainer checkpoint (``{"model": ..., "teacher": ..., "config": ...}``): ``which="model"``
      the student, ``"ema_model"`` (or ``"teacher"``) the EMA teacher;
    * a plain :class:`EncoderDecoder` state dict (``encoder.*``, ``head.*``).

    A leading ``module.`` (DistributedDataParallel) is removed. Keys that fit no rule keep their name and
    show up as unexpected keys when loading.

    Taught in: notebooks/09_full_uda.ipynb
    """
    raw = source if isinstance(source, Mapping) else _load_file(os.fspath(source))
    if not isinstance(raw, Mapping):
        raise SegmentorWeightsError(f"load_segmentor_weights: {source!r} does not hold a dict (got {type(raw)}).")
    if isinstance(raw.get("state_dict"), Mapping):  # mmcv's save_checkpoint
        raw = raw["state_dict"]
    elif isinstance(raw.get("model"), Mapping) and "config" in raw:  # this package's trainer checkpoint
        if which not in _TRAINER_MODELS:
            raise SegmentorWeightsError(
                f"load_segmentor_weights(which={which!r}): a daformer_edu trainer checkpoint holds 'model' (student) "
                "and 'ema_model' (teacher, saved as 'teacher'); choose one of those."
            )
        inner = raw.get(_TRAINER_MODELS[which])
        if not isinstance(inner, Mapping):
            raise SegmentorWeightsError(
                f"load_segmentor_weights(which={which!r}): this trainer checkpoint has no "
                f"{_TRAINER_MODELS[which]!r} weights (a run without a teacher, e.g. source-only); use which='model'."
            )
        raw, which = inner, "model"  # the chosen model's own state dict (encoder.*, head.*)
    state = {
        (k[len("module.") :] if k.startswith("module.") else k): v
        for k, v in raw.items()
        if isinstance(v, torch.Tensor)
    }
    present = _prefixes(state)
    if any(k.startswith(which + ".") for k in state):
        state = {k[len(which) + 1 :]: v for k, v in state.items() if k.startswith(which + ".")}
        wrapper = which + "."
    elif set(present) <= {"backbone", "decode_head", "auxiliary_head", "encoder", "head"} and present:
        if which != "model":
            raise SegmentorWeightsError(
                f"load_segmentor_weights(which={which!r}): this checkpoint holds a single model (top-level key "
                f"prefixes: {present}), not a UDA checkpoint with {which}.* keys; use which='model'."
            )
        wrapper = ""
    else:
        raise SegmentorWeightsError(
            f"load_segmentor_weights(which={which!r}): the checkpoint has no '{which}.*' keys. Top-level key prefixes "
            f"present: {present}. The released DAFormer checkpoints hold 'model' (student, what the official "
            "test.sh evaluates), 'ema_model' (EMA teacher) and 'imnet_model' (frozen ImageNet model of FD)."
        )
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in state.items():
        new = key
        if key.startswith("backbone."):  # SegFormer's MiT layout, as convert_segformer renames it
            new = "encoder." + _rename(key[len("backbone.") :], _SEGFORMER_RULES)
        elif key.startswith("decode_head."):
            head_key = _convert_daformer_head(key[len("decode_head.") :])
            new = "head." + head_key if head_key is not None else key
        out[new], origin[new] = value, wrapper + key
    return out, origin


def load_segmentor_weights(
    segmentor: nn.Module, source: str | os.PathLike | Mapping, which: str = "model"
) -> nn.Module:
    """Copy a whole segmentor's weights (encoder + DAFormer head, BN running statistics included) from ``source``.

    ``which="model"`` loads the student (what the official ``test.sh`` evaluates: its ``revise_keys`` strip
    ``model.``), ``which="ema_model"`` the EMA teacher. ``source`` is a path or a loaded checkpoint in any form
    :func:`segmentor_state_dict` accepts — the released DAFormer GTA→Cityscapes ``latest.pth`` among them
    (key table at the top of this module). Loading is strict: a key the segmentor needs that the checkpoint
    lacks, a checkpoint key with no place in the segmentor, or a shape mismatch raises
    :class:`SegmentorWeightsError` listing the keys (with their names in the checkpoint). Returns ``segmentor``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    state, origin = segmentor_state_dict(source, which)
    where = f"load_segmentor_weights(which={which!r}"
    where += f", source={os.fspath(source)!r})" if not isinstance(source, Mapping) else ")"
    return load_converted_state(segmentor, state, origin, where)


def load_converted_state(
    segmentor: nn.Module, state: Mapping[str, torch.Tensor], origin: Mapping[str, str], where: str
) -> nn.Module:
    """Strictly load a state dict already in this package's layout (``encoder.*``, ``head.*``) into ``segmentor``.

    The second half of :func:`load_segmentor_weights`, for a caller that needs the converted state first (e.g.
    ``python -m daformer_edu.evaluate`` reads the network's sizes from it, builds the segmentor, then loads):
    ``state, origin = segmentor_state_dict(source, which)``, then ``load_converted_state(model, state, origin,
    where)``. ``origin`` maps each of our keys to its name in the checkpoint (``model.decode_head.conv_seg.weight``
    for ``head.classifier.weight``), so errors speak the checkpoint's language; ``where`` opens every message.
    Strict as PyTorch's ``load_state_dict(strict=True)``, but a missing key, an unexpected key or a shape mismatch
    raises :class:`SegmentorWeightsError` listing them all. Returns ``segmentor``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    expected = segmentor.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        shown = [k if origin.get(k, k) == k else f"{origin[k]} (→ {k})" for k in unexpected]
        raise SegmentorWeightsError(
            _mismatch(
                where,
                "segmentor",
                missing,
                shown,
                "Check the encoder size (mit_b0 … mit_b5), the head ('daformer': the "
                "official DAFormer head with sep-ASPP fusion) and which= (model / "
                "ema_model).",
            )
        )
    bad = [
        f"{origin.get(k, k)} → {k}: checkpoint {tuple(state[k].shape)} vs segmentor {tuple(v.shape)}"
        for k, v in expected.items()
        if state[k].shape != v.shape
    ]
    if bad:
        raise SegmentorWeightsError(
            f"{where}: {len(bad)} shape mismatch(es): {_list(bad, 10)}\nBuild the segmentor with the checkpoint's "
            "sizes (encoder, num_classes, embed_dim, channels), e.g. python -m daformer_edu.evaluate infers them."
        )
    segmentor.load_state_dict(state, strict=True)
    return segmentor
