"""ImageNet MiT weights from the Hugging Face Hub: ``pretrained="hf:nvidia/mit-b5"``.

DAFormer starts from an ImageNet-pretrained MiT encoder (§4.1). NVIDIA publishes those weights on the Hugging Face
Hub as ``nvidia/mit-b0`` … ``nvidia/mit-b5`` (``SegformerForImageClassification`` checkpoints, the file
``pytorch_model.bin``: on ``main`` these repositories hold no ``model.safetensors``). A reference

    hf:<owner>/<repo>           e.g. hf:nvidia/mit-b5 (nvidia/mit-b*: pytorch_model.bin; others: model.safetensors,
                                else pytorch_model.bin)
    hf:<owner>/<repo>/<file>    a file of your choice, e.g. hf:nvidia/mit-b5/pytorch_model.bin

is turned into a local file by :func:`resolve_pretrained`: a file already in the Hub cache (``HF_HUB_CACHE``, or
``HF_HOME/hub``, default ``~/.cache/huggingface/hub``) is used without asking the network; otherwise
``huggingface_hub`` downloads it into that cache. ``load_encoder_weights`` then reads it like any HF-layout file
(``segformer.encoder.…`` keys; the ImageNet ``classifier.*`` is ignored).

Without the network (``HF_HUB_OFFLINE=1``, or the Hub cannot be reached) and without the file in the cache, the
error is one line that says how to download the file by hand and pass its path. :func:`check_pretrained_available`
gives the same answer at once, before a run prepares its data: it looks in the cache and, online, asks the Hub
whether the file exists (a HEAD request), but downloads nothing.

``huggingface_hub`` is optional: ``pip install -e ".[hub]"``. This is the package's only network access, and only
for ``hf:`` references; every other ``pretrained`` is a local path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "HF_PREFIX",
    "HubWeightsError",
    "is_hub_reference",
    "parse_hub_reference",
    "check_pretrained_available",
    "resolve_pretrained",
]

HF_PREFIX = "hf:"
# The files an encoder-weights repository may hold, in the order they are tried (safetensors: no pickle).
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# NVIDIA's ImageNet MiT repositories hold pytorch_model.bin (and tf_model.h5) on main.
NVIDIA_MIT = re.compile(r"nvidia/mit-b[0-5]")
_REFERENCE = re.compile(r"hf:([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:/(\S+))?")
_INSTALL = 'pip install -e ".[hub]"'


class HubWeightsError(FileNotFoundError):
    """An ``hf:`` reference cannot be turned into a local weights file (offline, unknown repo or file, no package).

    A ``FileNotFoundError``: the command line prints it as one line, like a missing ``pretrained`` path.
    """


def is_hub_reference(text) -> bool:
    """True for a string that starts with ``hf:``: ImageNet MiT weights (DAFormer §4.1) named on the Hugging Face Hub.

    Well formed or not: :func:`parse_hub_reference` tells.
    """
    return isinstance(text, str) and text.startswith(HF_PREFIX)


def parse_hub_reference(reference: str) -> tuple[str, tuple[str, ...]]:
    """``"hf:owner/repo[/file]"`` → ``(repo_id, files to try)``; a malformed reference raises ``ValueError``.

    No network and no ``huggingface_hub`` needed: cheap enough for config validation. ``nvidia/mit-b0`` …
    ``nvidia/mit-b5`` (the ImageNet MiT encoders of DAFormer §4.1) try ``pytorch_model.bin``, the file they hold.
    """
    match = _REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
    if match is None:
        raise ValueError(
            f"pretrained={reference!r} is not a Hugging Face Hub reference: write hf:<owner>/<repo>, "
            "e.g. hf:nvidia/mit-b5, or hf:<owner>/<repo>/<file>; or pass a local path"
        )
    repo_id, filename = match.groups()
    if filename:
        return repo_id, (filename,)
    return repo_id, (("pytorch_model.bin",) if NVIDIA_MIT.fullmatch(repo_id) else WEIGHT_FILES)


def _import_hub(reference: str):
    try:
        import huggingface_hub
    except ImportError:
        raise HubWeightsError(
            f"pretrained={reference!r} needs the huggingface_hub package, which is not installed: "
            f"{_INSTALL}; or download the file yourself and pass pretrained=/path/to/file"
        ) from None
    return huggingface_hub


def _cache_dir() -> str | None:
    """The Hub cache as the environment says *now* (huggingface_hub reads it once, when first imported)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    return os.path.join(os.environ["HF_HOME"], "hub") if os.environ.get("HF_HOME") else None


def _offline_from_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _manual_download(repo_id: str, files: tuple[str, ...]) -> str:
    """How to get the file on another machine and pass it: the end of every 'cannot get it' message."""
    name = files[0]
    other = f" (if the repo has no {name}: {files[1]})" if len(files) > 1 else ""
    return (
        f"on a machine with internet run `hf download {repo_id} {name}`{other} (or download "
        f"https://huggingface.co/{repo_id}/resolve/main/{name}) and pass pretrained=/path/to/{name.rsplit('/')[-1]}"
    )


def _unreachable(reference: str, repo_id: str, files: tuple[str, ...], why: str) -> HubWeightsError:
    where = _cache_dir() or "the default Hub cache"
    return HubWeightsError(
        f"pretrained={reference!r}: the Hugging Face Hub is not reachable ({why}) and "
        f"{' / '.join(files)} is not in the cache ({where}); {_manual_download(repo_id, files)}"
    )


def _error(reference: str, repo_id: str, files: tuple[str, ...], err: Exception) -> HubWeightsError:
    """Translate a ``huggingface_hub`` (or HTTP client) error into one line that names the fix."""
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    if isinstance(err, GatedRepoError):  # before RepositoryNotFoundError, its parent
        return HubWeightsError(
            f"pretrained={reference!r}: {repo_id} is a gated repository; accept its terms on "
            f"https://huggingface.co/{repo_id} and log in (`hf auth login`), or "
            f"{_manual_download(repo_id, files)}"
        )
    if isinstance(err, RepositoryNotFoundError):
        return HubWeightsError(
            f"pretrained={reference!r}: the Hugging Face Hub has no repository {repo_id!r} (or it "
            "is private); check the name, e.g. hf:nvidia/mit-b5 (nvidia/mit-b0 … nvidia/mit-b5)"
        )
    if isinstance(err, EntryNotFoundError) and not isinstance(err, LocalEntryNotFoundError):
        return HubWeightsError(
            f"pretrained={reference!r}: the repository {repo_id} holds no {' and no '.join(files)}; "
            f"see https://huggingface.co/{repo_id}/tree/main and name the file: "
            f"pretrained='hf:{repo_id}/<file>'"
        )
    why = " ".join(f"{type(err).__name__}: {err}".split())
    return _unreachable(reference, repo_id, files, why[:200])


def _cached(hub, repo_id: str, files: tuple[str, ...]) -> Path | None:
    """The first of ``files`` in the Hub cache (revision ``main``), or None."""
    for name in files:
        path = hub.try_to_load_from_cache(repo_id, name, cache_dir=_cache_dir())
        if isinstance(path, str):  # else None (not cached) or a marker that the Hub said it does not exist
            return Path(path)
    return None


def _remote_file(hub, reference: str, repo_id: str, files: tuple[str, ...]) -> str:
    """Ask the Hub (HEAD requests, no download) which of ``files`` the repository holds; the first one wins."""
    from huggingface_hub.utils import EntryNotFoundError, LocalEntryNotFoundError

    for name in files:
        try:
            hub.get_hf_file_metadata(hub.hf_hub_url(repo_id, name))
            return name
        except EntryNotFoundError as err:
            if isinstance(err, LocalEntryNotFoundError) or name == files[-1]:
                raise _error(reference, repo_id, files, err) from None
        except Exception as err:  # the HTTP client differs between versions (requests, httpx, httpx2)
            raise _error(reference, repo_id, files, err) from None
    raise AssertionError("unreachable: files is never empty")


def _locate(reference: str, offline: bool | None) -> tuple[Path | None, str]:
    """``(cached file, "")`` or ``(None, the file to download)``; raises :class:`HubWeightsError` otherwise."""
    repo_id, files = parse_hub_reference(reference)
    hub = _import_hub(reference)
    cached = _cached(hub, repo_id, files)
    if cached is not None:
        return cached, ""
    if offline or (offline is None and _offline_from_env()):
        raise _unreachable(reference, repo_id, files, "offline=True" if offline else "HF_HUB_OFFLINE=1")
    return None, _remote_file(hub, reference, repo_id, files)


def check_pretrained_available(reference: str, *, offline: bool | None = None) -> None:
    """Fail now, in one line, if :func:`resolve_pretrained` would fail later; download nothing.

    A file in the cache passes without the network. Otherwise offline (``offline=True``, or ``offline=None`` and
    ``HF_HUB_OFFLINE=1``) raises :class:`HubWeightsError` with the manual-download line; online, one HEAD request
    per candidate file checks that the Hub is reachable and holds the file (unknown repo or file: the same error,
    naming them). A malformed reference raises ``ValueError``. For config time: call it before preparing data.
    """
    _locate(reference, offline)


def resolve_pretrained(reference: str, *, offline: bool | None = None) -> Path:
    """``"hf:owner/repo[/file]"`` → the local path of the weights file, downloaded into the Hub cache if needed.

    A cached file is returned without the network. ``offline``: None reads ``HF_HUB_OFFLINE``; True never asks the
    network. Errors (offline and not cached, Hub unreachable, unknown repo or file, ``huggingface_hub`` missing)
    are :class:`HubWeightsError` (a ``FileNotFoundError``) in one line saying what to do; a malformed reference
    is a ``ValueError``. Pass the result to ``load_encoder_weights`` (HF layout).
    """
    cached, name = _locate(reference, offline)
    if cached is not None:
        return cached
    repo_id, files = parse_hub_reference(reference)
    hub = _import_hub(reference)
    try:
        return Path(hub.hf_hub_download(repo_id, name, cache_dir=_cache_dir()))
    except Exception as err:  # the connection dropped, the disk is full, …
        raise _error(reference, repo_id, (name,), err) from None
