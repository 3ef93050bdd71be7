"""The theory questions of Intro to Deep Learning Exercise 3: the numerical checks of Theory 1 and the table of Theory 2.

Theory 1 sets, by hand, the weights of transformer encoder blocks (multi-head self-attention and a ReLU feed-forward
network, each with a residual connection; no LayerNorm, no dropout) so that they compute a two-layer CNN and an MLP.
:func:`run` runs these constructions in float64 against torch's own layers and asserts that they agree; its result
holds only numbers (what the report glues and the metrics file records).  Nothing here prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lib.analysis import significant

DT = torch.float64
SEED = 0
SHARPNESS = 80.0  # lambda: the score of the wanted neighbour; every other token scores 0
PAD_BOUND = 1e3  # M: the feed-forward network sets ring tokens to 0 while their pre-activation is at most M
TOLERANCE = 1e-12  # every construction must match torch's layer to this (float64 rounding is ~1e-16)
CONV_IMAGE = (2, 6, 7)  # channels, height, width of the random image
CONV_CHANNELS = (2, 3, 2)  # two 3x3 convolutions with zero padding 1, each followed by a ReLU
MLP_IMAGE = (6, 6)  # a one-channel image with pixels in [0, 1], as MNIST's
MLP_WIDTHS = (36, 16, 12, 10)  # the MLP's layer widths, ReLU between the dense layers
BOUNDED_RANGE = 3.0  # the two-unit product x*e for |x| <= M, checked on an image with pixels in [-3, 3]
GELU_SCALES = (10.0, 100.0, 1000.0)  # c in GELU(c t) / c -> relu(t)
OFFSETS = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)]  # one attention head per kernel offset


# --- one encoder block ---------------------------------------------------------------------


def attention(z, wq, wk, wv, wo, bo):
    """Multi-head self-attention.  z (T, D); wq, wk (H, d_k, D); wv (H, d_v, D); wo (H, D, d_v); bo (D,).
    Returns the sublayer's output (T, D) and the attention weights (H, T, T)."""
    q, k, v = (torch.einsum("hkd,td->htk", w, z) for w in (wq, wk, wv))
    weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)
    return torch.einsum("hdk,htk->td", wo, weights @ v) + bo, weights


def feed_forward(z, w1, b1, w2, b2):
    """The token-wise feed-forward network W2 relu(W1 z + b1) + b2."""
    return torch.relu(z @ w1.T + b1) @ w2.T + b2


class Slots:
    """Groups of coordinates of the token vectors ("slots"), allocated one after the other."""

    def __init__(self):
        self.width = 0
        self.at: dict[str, slice] = {}

    def add(self, name: str, size: int) -> slice:
        self.at[name] = slice(self.width, self.width + size)
        self.width += size
        return self.at[name]


def zeros(*shape: int) -> torch.Tensor:
    return torch.zeros(*shape, dtype=DT)


def eye(n: int) -> torch.Tensor:
    return torch.eye(n, dtype=DT)


@dataclass
class Grid:
    """One token per pixel of the image surrounded by a ring of ``ring`` zero pixels, in row-major order."""

    height: int
    width: int
    ring: int = 1

    @property
    def rows(self) -> int:
        return self.height + 2 * self.ring

    @property
    def cols(self) -> int:
        return self.width + 2 * self.ring

    @property
    def size(self) -> int:
        return self.rows * self.cols

    def index(self, i: int, j: int) -> int | None:
        return i * self.cols + j if 0 <= i < self.rows and 0 <= j < self.cols else None

    def inside(self) -> torch.Tensor:
        """Boolean mask of the image's own tokens (False on the ring), in row-major order."""
        mask = torch.zeros(self.rows, self.cols, dtype=torch.bool)
        mask[self.ring : self.ring + self.height, self.ring : self.ring + self.width] = True
        return mask.flatten()

    def pixels(self, image: torch.Tensor) -> torch.Tensor:
        """(C, H, W) -> (T, C): the channels of every token, zero on the ring."""
        r = self.ring
        return F.pad(image, (r, r, r, r)).flatten(1).T

    def shift(self, di: int, dj: int) -> torch.Tensor:
        """S with S e_p = e_{p + (di, dj)} (one-hot position codes); a column is 0 where p + offset leaves the grid."""
        s = zeros(self.size, self.size)
        for i in range(self.rows):
            for j in range(self.cols):
                target = self.index(i + di, j + dj)
                if target is not None:
                    s[target, self.index(i, j)] = 1.0
        return s


# --- (a) a CNN ----------------------------------------------------------------------------


def cnn_by_blocks(image: torch.Tensor, convs: list[nn.Conv2d]) -> dict:
    """Run 3x3 convolutions with zero padding 1, each followed by a ReLU, as transformer blocks: tokens
    (x_p, e_p, m_p) with one-hot positions e_p and the ring flag m_p; per block 9 heads (one per offset) write the
    convolution into slot s, and the feed-forward network writes relu(s - M m) into slot a, the next block's input."""
    channels, height, width = image.shape
    grid = Grid(height, width)
    slots = Slots()
    x, e, m = slots.add("x", channels), slots.add("e", grid.size), slots.add("m", 1)
    outs = [(slots.add(f"s{n}", conv.out_channels), slots.add(f"a{n}", conv.out_channels)) for n, conv in enumerate(convs)]
    z = zeros(grid.size, slots.width)
    z[:, x], z[:, e], z[:, m] = grid.pixels(image), eye(grid.size), (~grid.inside()).to(DT)[:, None]
    shifts = [grid.shift(di, dj) for di, dj in OFFSETS]
    source, ring_max, weights_per_block = x, 0.0, []
    for conv, (s, a) in zip(convs, outs, strict=True):
        heads, c_in, c_out, d = len(OFFSETS), conv.in_channels, conv.out_channels, slots.width
        wq, wk = zeros(heads, grid.size, d), zeros(heads, grid.size, d)
        wv, wo, bo = zeros(heads, c_in, d), zeros(heads, d, c_in), zeros(d)
        for h, (di, dj) in enumerate(OFFSETS):
            wq[h][:, e] = SHARPNESS * math.sqrt(grid.size) * shifts[h]  # query of p: lambda sqrt(d_k) e_{p + offset}
            wk[h][:, e] = eye(grid.size)  # key of q: e_q
            wv[h][:, source] = eye(c_in)  # value: the token's channels
            wo[h][s] = conv.weight.detach()[:, :, di + 1, dj + 1]  # output: the kernel's weights at this offset
        bo[s] = conv.bias.detach()
        out, weights = attention(z, wq, wk, wv, wo, bo)
        z = z + out
        w1, w2 = zeros(c_out, d), zeros(d, c_out)
        w1[:, s], w1[:, m] = eye(c_out), -PAD_BOUND  # hidden: relu(s - M m)
        w2[a] = eye(c_out)
        ring_max = max(ring_max, z[~grid.inside()][:, s].max().item())
        z = z + feed_forward(z, w1, zeros(c_out), w2, zeros(d))
        weights_per_block.append(weights)
        source = a
    return {"outputs": z[grid.inside()][:, outs[-1][1]], "weights": weights_per_block, "grid": grid, "ring_max": ring_max}


def check_cnn() -> dict[str, float]:
    """Two blocks against torch's two-layer CNN; the attention weights against the softmax formula."""
    torch.manual_seed(SEED)
    image = torch.randn(*CONV_IMAGE, dtype=DT)
    pairs = zip(CONV_CHANNELS, CONV_CHANNELS[1:], strict=False)
    convs = [nn.Conv2d(c_in, c_out, 3, padding=1, dtype=DT) for c_in, c_out in pairs]
    built = cnn_by_blocks(image, convs)
    with torch.no_grad():
        reference = image
        for conv in convs:
            reference = torch.relu(conv(reference))
    reference = reference.flatten(1).T  # (H W, C) in the tokens' row-major order
    conv_diff = (built["outputs"] - reference).abs().max().item()

    grid, inside = built["grid"], built["grid"].inside().nonzero().flatten().tolist()
    tokens = grid.size  # T: here every token is a grid token (no [CLS])
    expected_target = 1.0 / (1.0 + (tokens - 1) * math.exp(-SHARPNESS))
    expected_other = math.exp(-SHARPNESS) * expected_target
    expected_off_target = (tokens - 1) * expected_other  # (T - 1) e^-lambda / (1 + (T - 1) e^-lambda)
    target_diff, other_rel, off_target = 0.0, 0.0, 0.0
    for weights in built["weights"]:
        for h, (di, dj) in enumerate(OFFSETS):
            for p in inside:
                i, j = divmod(p, grid.cols)
                row = weights[h, p]
                t = grid.index(i + di, j + dj)
                others = torch.cat([row[:t], row[t + 1 :]])
                target_diff = max(target_diff, abs(row[t].item() - expected_target))
                other_rel = max(other_rel, (others / expected_other - 1).abs().max().item())
                off_target = max(off_target, others.sum().item())
    assert conv_diff < TOLERANCE, f"attention blocks vs conv2d + relu: {conv_diff:.1e}"
    assert target_diff <= 1e-15 and other_rel < 1e-9, (target_diff, other_rel)
    assert abs(off_target / expected_off_target - 1) < 1e-9, (off_target, expected_off_target)
    assert built["ring_max"] < PAD_BOUND  # the ring is reset to exactly 0 only under this bound
    return {
        "conv_max_abs_diff": conv_diff,
        "off_target_weight": off_target,
        "off_target_weight_formula": expected_off_target,
        "off_target_formula_rel_diff": other_rel,
        "conv_grid_tokens": tokens,
        "ring_max_pre_activation": built["ring_max"],
    }


# --- (b) a dense layer and an MLP ----------------------------------------------------------


def dense_layers(mlp: nn.Sequential) -> list[nn.Linear]:
    return [layer for layer in mlp if isinstance(layer, nn.Linear)]


def mlp_by_blocks(image: torch.Tensor, mlp: nn.Sequential, bound: float | None = None) -> dict:
    """Run ``mlp`` on a one-channel image with one token per pixel of the ringed grid (T tokens) plus [CLS], T + 1
    tokens in all.  Block 1: the FFN writes the products x_p e_p into slot u (one ReLU unit per coordinate for pixels
    in [0, 1], two for |pixel| <= ``bound``).  Block 2: one head with W_Q = W_K = 0 (every weight 1/(T + 1)) reads u
    and writes (T + 1) W1 (1/(T + 1)) sum_q x_q e_q + b1 = W1 x + b1.  Then every FFN applies the ReLU and the next
    dense layer.  Returns the output slot of every token ([CLS] last)."""
    height, width = image.shape
    grid = Grid(height, width)
    positions = grid.size  # T: the grid's tokens, each with a one-hot position code
    tokens = positions + 1  # T + 1: the grid's tokens, then [CLS] with x = 0, e = 0, m = 0
    layers = dense_layers(mlp)
    slots = Slots()
    x, e, m, u = slots.add("x", 1), slots.add("e", positions), slots.add("m", 1), slots.add("u", positions)
    ys = [slots.add(f"y{n}", layer.out_features) for n, layer in enumerate(layers)]
    d = slots.width
    z = zeros(tokens, d)
    z[:positions, x], z[:positions, e] = grid.pixels(image[None]), eye(positions)
    z[:positions, m] = (~grid.inside()).to(DT)[:, None]

    # block 1, attention off: the FFN writes x_p e_p into slot u
    if bound is None:  # pixels in [0, 1]: one unit, relu(x + e - 1)
        w1, w2, b1 = zeros(positions, d), zeros(d, positions), torch.full((positions,), -1.0, dtype=DT)
        w1[:, x], w1[:, e], w2[u] = 1.0, eye(positions), eye(positions)
    else:  # |x| <= M: two units, relu(x - M (1 - e)) - relu(-x - M (1 - e))
        w1, w2, b1 = zeros(2 * positions, d), zeros(d, 2 * positions), torch.full((2 * positions,), -bound, dtype=DT)
        w1[:positions, x], w1[positions:, x] = 1.0, -1.0
        w1[:positions, e], w1[positions:, e] = bound * eye(positions), bound * eye(positions)
        w2[u] = torch.cat([eye(positions), -eye(positions)], dim=1)
    z = z + feed_forward(z, w1, b1, w2, zeros(d))
    products = z[:, u].clone()

    # block 2, attention: uniform weights 1/(T + 1), W_V reads u, W_O = (T + 1) W1 (zero columns on the ring), b_O = b1
    first = layers[0]
    wide = zeros(first.out_features, positions)
    wide[:, grid.inside()] = first.weight.detach()
    wv, wo, bo = zeros(1, positions, d), zeros(1, d, positions), zeros(d)
    wv[0][:, u] = eye(positions)
    wo[0][ys[0]] = tokens * wide
    bo[ys[0]] = first.bias.detach()
    out, weights = attention(z, zeros(1, 1, d), zeros(1, 1, d), wv, wo, bo)
    z = z + out
    # the FFN of block 2 and of every further block (attention off): relu, then the next dense layer
    for layer, (y_in, y_out) in zip(layers[1:], zip(ys, ys[1:], strict=False), strict=True):
        w1, w2, b2 = zeros(layer.in_features, d), zeros(d, layer.in_features), zeros(d)
        w1[:, y_in] = eye(layer.in_features)
        w2[y_out], b2[y_out] = layer.weight.detach(), layer.bias.detach()
        z = z + feed_forward(z, w1, zeros(layer.in_features), w2, b2)
    return {"outputs": z[:, ys[-1]], "products": products, "weights": weights, "tokens": tokens, "grid": grid}


def make_mlp() -> nn.Sequential:
    torch.manual_seed(SEED + 1)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(MLP_WIDTHS, MLP_WIDTHS[1:], strict=False):
        layers += [nn.Linear(n_in, n_out, dtype=DT), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def one_token(image: torch.Tensor, mlp: nn.Sequential) -> tuple[float, float]:
    """The whole image as one token: the attention weight is 1 whatever W_Q, W_K, so the attention sublayer is the
    dense layer W_O W_V z + b_O, and the FFN is a one-hidden-layer MLP (the first two dense layers of ``mlp``)."""
    first, second = dense_layers(mlp)[:2]
    n = image.numel()
    slots = Slots()
    x, y, h = slots.add("x", n), slots.add("y", first.out_features), slots.add("h", second.out_features)
    z = zeros(1, slots.width)
    z[0, x] = image.flatten()
    wv, wo, bo = zeros(1, n, slots.width), zeros(1, slots.width, n), zeros(slots.width)
    wv[0][:, x], wo[0][y], bo[y] = eye(n), first.weight.detach(), first.bias.detach()
    wq = torch.randn(1, 4, slots.width, dtype=DT)  # any query and key: a single key gets weight 1
    out, weights = attention(z, wq, wq.flip(1), wv, wo, bo)
    z = z + out
    dense = z[0, y]  # the attention sublayer: the dense layer
    w1, w2, b2 = zeros(first.out_features, slots.width), zeros(slots.width, first.out_features), zeros(slots.width)
    w1[:, x], w2[h], b2[h] = first.weight.detach(), second.weight.detach(), second.bias.detach()
    hidden = (z + feed_forward(z, w1, first.bias.detach(), w2, b2))[0, h]  # the FFN: a one-hidden-layer MLP
    with torch.no_grad():
        flat = image.flatten()
        diff = max((dense - first(flat)).abs().max().item(), (hidden - second(torch.relu(first(flat)))).abs().max().item())
    return diff, weights.item()


def check_mlp() -> dict[str, float]:
    """The pixel-token construction against the MLP (at every token, [CLS] included), for pixels in [0, 1] and in
    [-3, 3]; the one-token construction against a dense layer and a one-hidden-layer MLP."""
    mlp = make_mlp()
    torch.manual_seed(SEED + 2)
    image = torch.rand(*MLP_IMAGE, dtype=DT)
    image.view(-1)[:3] = torch.tensor([0.0, 1.0, 1.0])  # the ends of [0, 1], where x e = relu(x + e - 1) has kinks
    bounded = (2 * torch.rand(*MLP_IMAGE, dtype=DT) - 1) * BOUNDED_RANGE
    bounded.view(-1)[:3] = torch.tensor([-BOUNDED_RANGE, 0.0, BOUNDED_RANGE])
    diffs, product_diff = [], 0.0
    for img, bound in ((image, None), (bounded, BOUNDED_RANGE)):
        built = mlp_by_blocks(img, mlp, bound)
        with torch.no_grad():
            want = mlp(img.flatten())
        diffs.append((built["outputs"] - want).abs().max().item())  # every token, [CLS] included
        positions = built["grid"].size
        expected = torch.diag(built["grid"].pixels(img[None])[:, 0])  # x_p e_p: token p holds x_p at coordinate p
        product_diff = max(product_diff, (built["products"][:positions] - expected).abs().max().item())
        assert not built["products"][positions:].any()  # [CLS]: x = 0, e = 0 gives u = 0
        assert torch.equal(built["weights"], torch.full_like(built["weights"], 1.0 / built["tokens"]))
    one_token_diff, one_token_weight = one_token(image, mlp)
    assert max(diffs) < TOLERANCE and product_diff < 1e-15, (diffs, product_diff)
    assert one_token_weight == 1.0 and one_token_diff < TOLERANCE
    return {
        "mlp_max_abs_diff": diffs[0],
        "mlp_bounded_max_abs_diff": diffs[1],
        "product_max_abs_diff": product_diff,
        "one_token_max_abs_diff": one_token_diff,
        "mlp_tokens_with_cls": built["tokens"],
    }


def check_gelu() -> dict[str, float]:
    """GELU(c t) / c = t Phi(c t) -> relu(t): the largest gap over t is sup_u u Phi(-u) / c, about 0.17 / c."""
    t = torch.linspace(-5, 5, 200_001, dtype=DT)
    gaps = [(F.gelu(c * t) / c - torch.relu(t)).abs().max().item() for c in GELU_SCALES]
    assert all(a > b for a, b in zip(gaps, gaps[1:], strict=False)) and gaps[-1] < 0.2 / GELU_SCALES[-1], gaps
    return {"gelu_max_gap": gaps[-1]}


def run() -> dict[str, float]:
    """Every check of Theory 1 (each asserts its claim); returns the measured numbers."""
    result = {**check_cnn(), **check_mlp(), **check_gelu()}
    diffs = ("conv_max_abs_diff", "mlp_max_abs_diff", "mlp_bounded_max_abs_diff", "one_token_max_abs_diff")
    result["max_abs_diff"] = max(result[name] for name in diffs)  # over every construction against torch's layers
    return result


# --- what the report shows ---------------------------------------------------------------------


def sci(value: float, digits: int = 1, upper: bool = False) -> str:
    """A small number for the prose as math with ``digits`` significant digits, e.g. $2 \\times 10^{-16}$;
    ``upper``: rounded up, for a bound ("to within ...")."""
    if value == 0:
        return "$0$"
    mantissa, exponent = significant(value, digits, round_up=upper)
    return f"${mantissa} \\times 10^{{{exponent}}}$"


def summary(result: dict[str, float]) -> dict[str, str]:
    """The values the prose glues."""
    channels, height, width = CONV_IMAGE
    layers = {1: "one", 2: "two", 3: "three"}.get(len(CONV_CHANNELS) - 1, str(len(CONV_CHANNELS) - 1))
    return {
        "sharpness": f"{SHARPNESS:g}",
        "off_target_weight": sci(result["off_target_weight"], digits=2),
        "conv_case": f"{layers} 3×3 convolution layers on a {channels}-channel {height}×{width} image",
        "t1_max_diff": sci(result["max_abs_diff"], upper=True),
    }


CHECKS = ("cnn_by_attention", "one_hot_attention", "mlp_by_pixel_tokens", "bounded_product", "mlp_by_one_token", "gelu_limit")


def metrics(result: dict[str, float]) -> dict:
    """The checks' numbers; the notebook writes them only after every assertion of :func:`run` held."""
    return {"t1_" + name: value for name, value in result.items()} | {"t1_tolerance": TOLERANCE, "checks_passed": list(CHECKS)}


# --- Theory 2 -----------------------------------------------------------------------------------

T2_HEADERS = ["strategy", "(1) paired", "(2) loosely paired", "(3) unpaired", "3 → 1 helps?"]


def t2_rows() -> list[list[str]]:
    """Theory 2's verdicts (an argument about the objectives, not a measurement)."""
    return [
        ["regular GAN-like", "fails", "fails", "fails", "no (pairs unused)"],
        ["conditional GAN", "succeeds", "partly (coarse content)", "fails (no real pairs)", "yes, strongly"],
        ["CycleGAN", "succeeds$^*$", "succeeds$^*$", "succeeds$^*$", "little (pairs unused)"],
    ]
