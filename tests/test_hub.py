"""``pretrained="hf:…"``: MiT weights through the Hugging Face Hub cache, and one-line errors when they cannot be had.

No test reaches the network: every test runs with an empty Hub cache in ``tmp_path`` and with huggingface_hub's two
network calls (``get_hf_file_metadata``, ``hf_hub_download``) replaced by tripwires; a test that plays the Hub
replaces them with fakes that raise huggingface_hub's own errors (made by its own ``hf_raise_for_status``). Weight
files come from real (random-init) ``transformers`` Segformer models and are placed in huggingface_hub's cache
layout (``models--owner--repo/refs/main`` → ``snapshots/<commit>/<file>``), which ``scan_cache_dir`` confirms.
"""

import sys

import pytest
import torch

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub.utils import hf_raise_for_status  # noqa: E402
from transformers import SegformerConfig, SegformerForImageClassification, SegformerModel  # noqa: E402

from daformer_edu import hub  # noqa: E402
from daformer_edu.hub import (  # noqa: E402
    HubWeightsError,
    check_pretrained_available,
    is_hub_reference,
    parse_hub_reference,
    resolve_pretrained,
)
from daformer_edu.models import load_encoder_weights, mit_b0  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Hub cache, HF_HUB_OFFLINE=1, and tripwires on the network calls."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def tripwire(*args, **kwargs):  # pytest.fail: a BaseException, which no `except Exception` in hub.py swallows
        pytest.fail(f"a test reached for the network: {args} {kwargs}")

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", tripwire)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", tripwire)
    return tmp_path / "hf" / "hub"


def _put_in_cache(cache, repo_id: str, filename: str, state: dict) -> str:
    """Write ``state`` as ``filename`` where huggingface_hub keeps revision ``main`` of ``repo_id``."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    path = repo / "snapshots" / COMMIT / filename
    path.parent.mkdir(parents=True)
    if filename.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return str(path)


def _hf_b0(model_class=SegformerModel) -> dict:
    torch.manual_seed(3)
    model = model_class(SegformerConfig())  # MiT-B0 sizes
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.state_dict()


def _hub_error(status: int, code: str):
    """The exception huggingface_hub itself raises for an HTTP answer with ``X-Error-Code: code``."""
    url = "https://huggingface.co/x/y/resolve/main/f"
    # the HTTP client huggingface_hub speaks: requests (< 1.0), httpx (1.x) or httpx2 (2.x)
    client = next(
        hf_raise_for_status.__globals__[n]
        for n in ("httpx2", "httpx", "requests")
        if n in hf_raise_for_status.__globals__
    )
    if client.__name__ == "requests":
        response = client.Response()
        response.status_code, response.url, response.headers["X-Error-Code"] = status, url, code
        response.request = client.Request("HEAD", url).prepare()
    else:
        response = client.Response(status, headers={"X-Error-Code": code}, request=client.Request("HEAD", url))
    with pytest.raises(Exception) as info:
        hf_raise_for_status(response)
    return info.value


def _one_line(err) -> str:
    text = str(err)
    assert "\n" not in text, text
    return text


# ---------------------------------------------------------------------------------------------- references
def test_is_hub_reference():
    assert is_hub_reference("hf:nvidia/mit-b5") and is_hub_reference("hf:")
    assert not is_hub_reference("/weights/mit_b5.pth") and not is_hub_reference("embedded")
    assert not is_hub_reference(None) and not is_hub_reference({"a": 1})


def test_parse_hub_reference():
    assert parse_hub_reference("hf:nvidia/mit-b5") == ("nvidia/mit-b5", ("pytorch_model.bin",))
    assert parse_hub_reference("hf:someone/segformer-x") == (
        "someone/segformer-x",
        ("model.safetensors", "pytorch_model.bin"),
    )
    assert parse_hub_reference("hf:nvidia/mit-b5/model.safetensors") == ("nvidia/mit-b5", ("model.safetensors",))


@pytest.mark.parametrize("bad", ["hf:", "hf:no-slash", "hf:/repo", "hf:owner/", "hf:a/b/", "hf:a b/c"])
def test_bad_reference_is_a_clear_error(bad, cache):
    for call in (parse_hub_reference, resolve_pretrained, check_pretrained_available):
        with pytest.raises(ValueError) as info:
            call(bad)
        assert f"pretrained={bad!r}" in _one_line(info.value) and "hf:<owner>/<repo>" in str(info.value)


# ---------------------------------------------------------------------------------------------- offline
def test_offline_and_not_cached_names_the_manual_download(cache):
    for call in (resolve_pretrained, check_pretrained_available):
        with pytest.raises(HubWeightsError) as info:
            call("hf:nvidia/mit-b5")
        text = _one_line(info.value)
        assert isinstance(info.value, FileNotFoundError)
        assert text.startswith(
            "pretrained='hf:nvidia/mit-b5': the Hugging Face Hub is not reachable (HF_HUB_OFFLINE=1)"
        )
        assert str(cache) in text  # where it looked
        assert "`hf download nvidia/mit-b5 pytorch_model.bin`" in text
        assert "https://huggingface.co/nvidia/mit-b5/resolve/main/pytorch_model.bin" in text
        assert text.endswith("pass pretrained=/path/to/pytorch_model.bin")


def test_offline_other_repo_names_both_files(cache):
    with pytest.raises(HubWeightsError) as info:
        resolve_pretrained("hf:someone/segformer-x")
    text = _one_line(info.value)
    assert (
        "`hf download someone/segformer-x model.safetensors` (if the repo has no model.safetensors: "
        "pytorch_model.bin)" in text
    )
    assert text.endswith("pass pretrained=/path/to/model.safetensors")


def test_offline_argument_wins_over_the_environment(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(HubWeightsError, match=r"not reachable \(offline=True\)"):
        check_pretrained_available("hf:nvidia/mit-b0", offline=True)


# ---------------------------------------------------------------------------------------------- the cache
def test_cached_safetensors_is_used_and_loads(cache):
    hf = _hf_b0()
    expected = _put_in_cache(cache, "someone/mit-b0-hf", "model.safetensors", hf)
    assert [r.repo_id for r in huggingface_hub.scan_cache_dir(cache).repos] == ["someone/mit-b0-hf"]
    check_pretrained_available("hf:someone/mit-b0-hf")  # offline, cached: passes
    path = resolve_pretrained("hf:someone/mit-b0-hf")
    assert str(path) == expected
    encoder = load_encoder_weights(mit_b0(), path)
    ours = encoder.state_dict()
    torch.testing.assert_close(
        ours["stages.0.patch_embed.proj.weight"], hf["stages.0.patch_embeddings.proj.weight"], rtol=0, atol=0
    )
    kv = torch.cat([hf["stages.2.blocks.1.attention.k_proj.weight"], hf["stages.2.blocks.1.attention.v_proj.weight"]])
    torch.testing.assert_close(ours["stages.2.blocks.1.attn.kv.weight"], kv, rtol=0, atol=0)


def test_cached_nvidia_checkpoint_is_used_online_without_asking(cache, monkeypatch):
    """nvidia/mit-b*: pytorch_model.bin of a SegformerForImageClassification (segformer.* + classifier.*)."""
    monkeypatch.delenv("HF_HUB_OFFLINE")  # online, but a cached file needs no network (the tripwires stay)
    hf = _hf_b0(SegformerForImageClassification)
    expected = _put_in_cache(cache, "nvidia/mit-b0", "pytorch_model.bin", hf)
    path = resolve_pretrained("hf:nvidia/mit-b0", offline=False)
    assert str(path) == expected
    ours = load_encoder_weights(mit_b0(), path).state_dict()
    torch.testing.assert_close(ours["stages.3.norm.weight"], hf["segformer.stages.3.layer_norm.weight"], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------- online (faked)
def test_download_into_the_cache(cache, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    asked, hf = [], _hf_b0()

    def metadata(url, **kwargs):
        asked.append(url)
        if url.endswith("model.safetensors"):
            raise _hub_error(404, "EntryNotFound")
        return object()

    def download(repo_id, filename, *, cache_dir=None, **kwargs):
        assert cache_dir == str(cache)
        return _put_in_cache(cache, repo_id, filename, hf)

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", metadata)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    path = resolve_pretrained("hf:someone/only-bin")
    assert path.name == "pytorch_model.bin" and path.is_file()
    assert [u.rsplit("/", 1)[1] for u in asked] == ["model.safetensors", "pytorch_model.bin"]
    load_encoder_weights(mit_b0(), path)


@pytest.mark.parametrize("call", [resolve_pretrained, check_pretrained_available])
def test_network_error_names_the_manual_download(cache, monkeypatch, call):
    monkeypatch.delenv("HF_HUB_OFFLINE")

    def unreachable(url, **kwargs):
        raise ConnectionError("[Errno -3] Temporary failure\nin name resolution")

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", unreachable)
    with pytest.raises(HubWeightsError) as info:
        call("hf:nvidia/mit-b5")
    text = _one_line(info.value)
    assert "not reachable (ConnectionError: [Errno -3] Temporary failure in name resolution)" in text
    assert "`hf download nvidia/mit-b5 pytorch_model.bin`" in text and "pass pretrained=/path/to/" in text


@pytest.mark.parametrize(
    "code,status,expected",
    [
        ("RepoNotFound", 404, "the Hugging Face Hub has no repository 'nobody/nothing'"),
        ("EntryNotFound", 404, "the repository nobody/nothing holds no model.safetensors and no pytorch_model.bin"),
        ("GatedRepo", 403, "nobody/nothing is a gated repository"),
    ],
)
def test_unknown_repo_or_file_is_named(cache, monkeypatch, code, status, expected):
    monkeypatch.delenv("HF_HUB_OFFLINE")

    def answer(url, **kwargs):
        raise _hub_error(status, code)

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", answer)
    with pytest.raises(HubWeightsError) as info:
        check_pretrained_available("hf:nobody/nothing")
    assert expected in _one_line(info.value)


# ---------------------------------------------------------------------------------------------- no package
def test_without_huggingface_hub_says_how_to_install(cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # `import huggingface_hub` now fails
    for call in (resolve_pretrained, check_pretrained_available):
        with pytest.raises(HubWeightsError) as info:
            call("hf:nvidia/mit-b5")
        assert 'pip install -e ".[hub]"' in _one_line(info.value)
    assert hub.is_hub_reference("hf:nvidia/mit-b5")  # telling a reference needs no package
