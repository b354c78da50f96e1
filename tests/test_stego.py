"""STEGO pieces against hand-worked examples (daformer_edu/unsupervised/stego.py)."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from daformer_edu.unsupervised import (
    StegoConfig,
    StegoHead,
    correlation,
    derangement,
    knn_table,
    sample_points,
    spatial_centering,
    stego_correlation_loss,
    stego_loss,
    train_stego,
)


def test_correlation_two_tiny_feature_sets():
    # a: two points (1, 0) and (0, 2); b: one point (3, 3) and one (0, -1)
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]]).T.reshape(1, 2, 1, 2)  # [1, C=2, 1, 2]
    b = torch.tensor([[3.0, 3.0], [0.0, -1.0]]).T.reshape(1, 2, 1, 2)
    r = correlation(a, b)
    assert r.shape == (1, 1, 2, 1, 2)
    s = 1 / math.sqrt(2)
    expected = torch.tensor([[s, 0.0], [s, -1.0]])  # cos((1,0),(3,3)), cos((1,0),(0,-1)); cos((0,2),·)
    assert torch.allclose(r[0, 0, :, 0, :], expected, atol=1e-6)


def test_correlation_is_scale_invariant_and_self_diagonal_is_one():
    torch.manual_seed(0)
    a = torch.randn(2, 5, 3, 3)
    r = correlation(a, a)
    diag = r.reshape(2, 9, 9).diagonal(dim1=1, dim2=2)
    assert torch.allclose(diag, torch.ones(2, 9), atol=1e-6)
    assert torch.allclose(correlation(3 * a, a), r, atol=1e-6)


def test_spatial_centering_hand_worked():
    f = torch.tensor([[1.0, 3.0], [5.0, 7.0]]).reshape(1, 1, 2, 1, 2)  # rows = points of image 1
    # row means 2 and 6, global mean 4 → [1−2+4, 3−2+4], [5−6+4, 7−6+4]
    out = spatial_centering(f).reshape(2, 2)
    assert torch.allclose(out, torch.tensor([[3.0, 5.0], [3.0, 5.0]]))
    assert torch.isclose(spatial_centering(f).mean(), f.mean())  # the global mean is kept


def test_loss_hand_worked_sign_and_clamp():
    fc = torch.tensor([0.2, 0.8]).reshape(1, 1, 1, 1, 2)
    s = torch.tensor([0.5, -0.5]).reshape(1, 1, 1, 1, 2)
    # −mean(max(S,0)·(F − b)), b = 0.3: −(0.5·(−0.1) + 0·0.5)/2 = 0.025
    loss = stego_correlation_loss(fc, s, 0.3, centering=False)
    assert loss.item() == pytest.approx(0.025, abs=1e-7)
    # without the clamp the second pair contributes −0.5·0.5
    assert stego_correlation_loss(fc, s, 0.3, centering=False, zero_clamp=False).item() == pytest.approx(
        -(0.5 * -0.1 + -0.5 * 0.5) / 2, abs=1e-7
    )


def test_shift_decides_attraction_or_repulsion():
    fc = torch.full((1, 1, 1, 1, 1), 0.4)
    for b, sign in ((0.1, -1.0), (0.7, 1.0)):  # F > b: raising S lowers the loss (attract); F < b: repel
        s = torch.full((1, 1, 1, 1, 1), 0.5, requires_grad=True)
        stego_correlation_loss(fc, s, b, centering=False).backward()
        assert math.copysign(1.0, s.grad.item()) == sign
    # a clamped (negative) S gets no gradient at all
    s = torch.full((1, 1, 1, 1, 1), -0.5, requires_grad=True)
    stego_correlation_loss(fc, s, 0.7, centering=False).backward()
    assert s.grad.item() == 0.0


def test_loss_never_sends_gradient_into_features():
    f = torch.rand(1, 2, 1, 2, 2, requires_grad=True)
    s = torch.rand(1, 2, 1, 2, 2, requires_grad=True)
    stego_correlation_loss(f, s, 0.2).backward()
    assert f.grad is None and s.grad is not None


def test_knn_table_constructed_set():
    # two tight groups of directions: {0, 1, 4} near (1, 0), {2, 3} near (0, 1); magnitudes must not matter
    pooled = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [0.1, 5.0], [1.0, 0.02]])
    t = knn_table(pooled, k=1)
    assert t.flatten().tolist() == [4, 4, 3, 2, 0]
    t2 = knn_table(pooled, k=2)
    assert t2[0].tolist() == [4, 1] and set(t2[2].tolist()) == {3, 1}
    # duplicates: an image is never its own neighbour
    dup = torch.ones(3, 4)
    assert all(i not in row for i, row in enumerate(knn_table(dup, k=2).tolist()))
    with pytest.raises(ValueError, match="k=5"):
        knn_table(pooled, k=5)


def test_derangement_has_no_fixed_point():
    g = torch.Generator().manual_seed(0)
    for n in (2, 3, 7, 16):
        for _ in range(20):
            p = derangement(n, g)
            assert sorted(p.tolist()) == list(range(n))
            assert not (p == torch.arange(n)).any()


def test_sample_points_corners_and_centre():
    t = torch.arange(9.0).reshape(1, 1, 3, 3)
    coords = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [1.0, -1.0]]).reshape(1, 1, 4, 2)  # (x, y)
    out = sample_points(t, coords).flatten().tolist()
    assert out == [0.0, 8.0, 4.0, 2.0]  # top-left, bottom-right, centre, top-right
    assert sample_points(t, torch.tensor([[[[-0.5, -1.0]]]])).item() == pytest.approx(0.5)  # halfway 0 → 1


def test_head_and_loss_shapes():
    head = StegoHead(12, code_dim=5)
    f = torch.randn(4, 12, 6, 7)
    code = head(f)
    assert code.shape == (4, 5, 6, 7)
    cfg = StegoConfig(feature_samples=3)
    terms = stego_loss(f, code, f.flip(0), head(f.flip(0)), cfg, torch.Generator().manual_seed(0))
    assert set(terms) == {"self", "knn", "rand", "loss"}
    total = cfg.lambda_self * terms["self"] + cfg.lambda_knn * terms["knn"] + cfg.lambda_rand * terms["rand"]
    assert torch.isclose(terms["loss"], total)


@pytest.mark.slow
def test_train_stego_separates_two_feature_types():
    # features of two kinds ("road" u, "sky" v) plus noise; trained codes must keep them apart
    torch.manual_seed(0)
    u, v = torch.randn(16), torch.randn(16)
    mask = torch.rand(24, 1, 6, 6) > 0.5
    feats = torch.where(mask, u.view(1, 16, 1, 1), v.view(1, 16, 1, 1)) + 0.3 * torch.randn(24, 16, 6, 6)
    cfg = StegoConfig(code_dim=4, iterations=150, batch_size=8, feature_samples=5, b_self=0.6, b_knn=0.6, b_rand=0.6)
    # F^SC ≈ 0.97 within a kind and ≈ 0.19 across (cos(u, v)); b between them pulls kinds apart
    head, hist = train_stego(feats, cfg)
    code = torch.nn.functional.normalize(head(feats), dim=1).permute(0, 2, 3, 1)[..., :]  # [N, h, w, D]
    cu, cv = code[mask[:, 0]].mean(0), code[~mask[:, 0]].mean(0)
    assert torch.nn.functional.cosine_similarity(cu, cv, dim=0) < 0.5
    within = (code[mask[:, 0]] @ cu / cu.norm()).mean()
    assert within > 0.9  # each kind stays together
    assert len(hist["loss"]) == 150
    assert hist["knn_table"].shape == (24, 7) and len(hist["knn"]) == 150


def test_stego_plots_return_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from daformer_edu import viz

    img = torch.rand(3, 16, 32)
    fig = viz.plot_correlation_volume(img, (4, 8), {"F": torch.rand(2, 4) * 2 - 1, "S": torch.rand(2, 4)})
    assert len([a for a in fig.axes if a.get_label() != "<colorbar>"]) == 3
    fig2 = viz.plot_shift_effect(
        {"self": torch.randn(100), "rand": torch.randn(100)}, {"self": [0.1, 0.5], "rand": 0.3}
    )
    assert len(fig2.axes) == 2
    labels = torch.randint(0, 19, (2, 16, 32))
    fig3 = viz.plot_cluster_maps(torch.rand(2, 3, 16, 32), labels, labels, labels, num_clusters=19)
    assert len(fig3.axes) == 8
    rows = [
        {"method": "a", "miou": 0.5, "acc": None, "uses": "x", "preset": "p", "seeds": "0", "wall_s": 3.2},
        {"method": "b", "miou": 12.0, "acc": 80.25},
    ]
    fig4 = viz.plot_setting_table(rows)
    assert len(fig4.axes) == 1
    text = viz.format_setting_table(rows)  # percent in, percent out: 0.5 % stays 0.5
    cells = [line.split() for line in text.splitlines()[2:]]  # [method, mIoU %, acc %, ...]
    assert cells[0][1:3] == ["0.5", "n/a"] and cells[1][1:3] == ["12.0", "80.2"] and "50.0" not in text
    plt.close("all")


# --- STEGO as the official code ------------------------------------------------------------------------------------


def test_random_term_averages_five_pairings(monkeypatch):
    import daformer_edu.unsupervised.stego as st

    perms = []
    real = st.derangement

    def spy(n, generator=None):
        perms.append(real(n, generator))
        return perms[-1]

    monkeypatch.setattr(st, "derangement", spy)
    # spatially constant maps: every sampled point of image b is the vector f_b (code s_b), so the terms are
    # independent of where the points fall and can be written by hand
    g = torch.Generator().manual_seed(0)
    fv, sv = torch.randn(6, 5, generator=g), torch.randn(6, 3, generator=g)
    feats, code = fv[:, :, None, None].expand(6, 5, 4, 4), sv[:, :, None, None].expand(6, 3, 4, 4)
    cfg = StegoConfig()
    assert cfg.neg_samples == 5  # the official config's neg_samples
    terms = stego_loss(feats, code, feats, code, dataclasses.replace(cfg, feature_samples=3), g)
    assert len(perms) == 5 and not all(torch.equal(perms[0], p) for p in perms[1:])
    fn, sn = F.normalize(fv, dim=1), F.normalize(sv, dim=1)
    want = []
    for p in perms:
        fcorr = (fn * fn[p]).sum(1)  # [B]: cos(f_b, f_p(b)), the same for every point pair
        scorr = (sn * sn[p]).sum(1)
        # spatial centering: each row is constant, so F^SC = the global mean of F over the batch
        want.append(-(scorr.clamp(min=0) * (fcorr.mean() - cfg.b_rand)).mean())
    assert terms["rand"].item() == pytest.approx(float(torch.stack(want).mean()), abs=1e-5)


def test_correlation_uses_dropped_out_features(monkeypatch):
    import daformer_edu.unsupervised.stego as st

    got = []
    real = st.stego_loss

    def spy(feats, code, feats_knn, code_knn, cfg, generator=None):
        got.append((feats.detach().clone(), feats_knn.detach().clone()))
        return real(feats, code, feats_knn, code_knn, cfg, generator)

    monkeypatch.setattr(st, "stego_loss", spy)
    torch.manual_seed(0)
    one = torch.randn(64, 3, 3).abs() + 0.5  # [C, h, w], no zero anywhere
    feats = one.expand(6, 64, 3, 3).contiguous()  # six identical images: whichever are drawn, the clean map is `one`
    p = 0.5
    train_stego(feats, StegoConfig(code_dim=4, iterations=2, batch_size=4, feature_samples=3, dropout=p))
    for f, fk in got:
        for m in (f, fk):
            zero = (m == 0).flatten(2).all(-1)  # [b, C]: whole channels dropped (Dropout2d)
            kept = torch.isclose(m, one / (1 - p)).flatten(2).all(-1)  # the others scaled by 1 / (1 − p)
            assert bool((zero | kept).all()) and bool(zero.any()) and bool(kept.any())
    got.clear()
    train_stego(
        feats,
        StegoConfig(code_dim=4, iterations=1, batch_size=4, feature_samples=3, dropout=p, correlation_dropout=False),
    )
    assert torch.equal(got[0][0], feats[:4])  # switched off: the clean features
