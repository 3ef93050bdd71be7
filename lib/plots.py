"""Plotting helpers.  Every figure gets a title, axis labels and units; images are
shown on a fixed [0, 1] grey scale so panels are comparable."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

# PNG (not SVG) figures at a resolution that prints well; a consistent look everywhere.
plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})
try:  # inside a notebook kernel only: PNG from plt.show() (SVG drops in the LaTeX build)
    from IPython import get_ipython  # None outside IPython; creating a shell here would fool lib.report

    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
except ImportError:  # pragma: no cover - IPython not installed
    pass


def _img(image: torch.Tensor | np.ndarray) -> np.ndarray:
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    return arr.reshape(arr.shape[-2], arr.shape[-1])


def image_rows(
    rows: Sequence[Sequence[torch.Tensor]],
    row_labels: Sequence[str],
    title: str,
    column_labels: Sequence[str] | None = None,
    xlabel: str = "",
    cell_inches: float = 0.75,
    label_size: float = 8,
) -> plt.Figure:
    """A grid of grey images (pixel intensity in [0, 1]), one labelled row per sequence."""
    num_rows, num_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(
        num_rows, num_cols, figsize=(cell_inches * num_cols + 1.2, cell_inches * num_rows + 0.6), squeeze=False
    )
    for r, row in enumerate(rows):
        for c in range(num_cols):
            ax = axes[r][c]
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            if c < len(row):
                ax.imshow(_img(row[c]), cmap="gray", vmin=0.0, vmax=1.0)
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=label_size)
            if column_labels is not None and r == num_rows - 1 and c < len(column_labels):
                ax.set_xlabel(column_labels[c], fontsize=label_size - 1)
    if title or xlabel:
        fig.suptitle(title + ("\n" + xlabel if xlabel else ""), fontsize=10)
    fig.tight_layout()
    return fig


def curves(
    series: dict[str, Sequence[float]],
    title: str,
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    x: Sequence[float] | None = None,
    ax: plt.Axes | None = None,
    styles: dict[str, str] | None = None,
) -> plt.Axes:
    """Line plot of named series against epoch (or ``x``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.4))
    for label, values in series.items():
        xs = list(x) if x is not None else list(range(1, len(values) + 1))
        ax.plot(xs, list(values), (styles or {}).get(label, "-o"), label=label, markersize=3)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize=7)
    return ax


def heatmap(
    matrix: np.ndarray, title: str, ax: plt.Axes, label: str = "Pearson r (unitless)", vmin=-1.0, vmax=1.0, colorbar: bool = True
):
    """Correlation-style heatmap; NaN cells (undefined r) are drawn grey."""
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="lightgrey")
    im = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set(title=title, xlabel="latent coordinate j", ylabel="latent coordinate i")
    ax.grid(False)
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=label)
    return im


def count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: captions read "1 epoch" in quick and
    smoke builds and "5 epochs" in full ones."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], caption: str) -> str:
    """A Markdown table (rendered by Jupyter and by pandoc in the PDF) with a caption line."""

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.4f}"
        return str(v)

    lines = [f"**{caption}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def show_table(headers: Sequence[str], rows: Sequence[Sequence], caption: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(markdown_table(headers, rows, caption)))


def filter_grid(weights: torch.Tensor, title: str, num_cols: int = 8) -> plt.Figure:
    """First-layer convolution filters (out, 1, k, k) as images on one shared, symmetric
    colour scale (red positive, blue negative weights) with a colour bar."""
    kernels = weights.detach().cpu()[:, 0].numpy()
    num_rows = int(np.ceil(len(kernels) / num_cols))
    limit = float(np.abs(kernels).max())
    fig, axes = plt.subplots(num_rows, num_cols, figsize=(0.72 * num_cols + 0.9, 0.72 * num_rows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        if i < len(kernels):
            im = ax.imshow(kernels[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(i), fontsize=8, pad=2)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.colorbar(im, ax=axes, fraction=0.02, pad=0.02, label="weight")
    return fig


def confusion(matrix: np.ndarray, title: str, ax: plt.Axes | None = None, count_size: float = 6) -> plt.Axes:
    """Confusion matrix (rows: true digit, columns: predicted digit) with counts in each cell;
    the colour scale is logarithmic so the few off-diagonal errors remain visible."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.8))
    im = ax.imshow(matrix + 1, cmap="Blues", norm=matplotlib.colors.LogNorm())
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=count_size, color="white" if i == j else "black")
    ax.set(title=title, xlabel="predicted digit", ylabel="true digit", xticks=range(10), yticks=range(10))
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="test images (count + 1, log scale)")
    return ax


def embedding_scatter(codes: np.ndarray, labels: np.ndarray, title: str, ax: plt.Axes | None = None) -> plt.Axes:
    """2-D codes coloured by digit, with each digit's median code marked by its label."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.4))
    cmap = matplotlib.colormaps["tab10"]
    for digit in range(10):
        points = codes[labels == digit]
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, color=cmap(digit), label=str(digit), rasterized=True)
        centre = np.median(points, axis=0)
        ax.text(*centre, str(digit), fontsize=11, weight="bold", ha="center", va="center", color="black")
    ax.set(title=title, xlabel="code coordinate $z_1$ (unitless)", ylabel="code coordinate $z_2$ (unitless)")
    ax.legend(markerscale=4, fontsize=6, title="digit", title_fontsize=7, loc="best", ncol=2)
    return ax


def _layer_words(module: torch.nn.Module) -> str:
    """A layer in words, e.g. "conv 1 → 16, 4×4, stride 2" (not a module path)."""
    if isinstance(module, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
        kind = "transposed conv" if isinstance(module, torch.nn.ConvTranspose2d) else "conv"
        k, stride = module.kernel_size[0], module.stride[0]
        return f"{kind} {module.in_channels} → {module.out_channels}, {k}×{k}, stride {stride}"
    if isinstance(module, torch.nn.Linear):
        return f"fully connected {module.in_features} → {module.out_features}"
    if isinstance(module, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
        return "batch norm"
    if isinstance(module, torch.nn.MaxPool2d):
        k = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        return f"max pool {k}×{k}"
    if isinstance(module, torch.nn.Upsample):
        return f"upsample ×{module.scale_factor:g} ({module.mode})"
    if isinstance(module, torch.nn.ZeroPad2d):
        left, right, top, bottom = module.padding
        if left == right == top == bottom:
            return f"zero-pad {left} px"
        sides = (("left", left), ("right", right), ("top", top), ("bottom", bottom))
        return "zero-pad " + ", ".join(f"{side} {size}" for side, size in sides if size) + " px"
    if isinstance(module, torch.nn.Unflatten):
        return "reshape to " + "×".join(str(size) for size in module.unflattened_size)
    if isinstance(module, torch.nn.Dropout):
        return f"dropout {module.p:g}"
    words = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Flatten": "flatten", "Standardize": "standardise (fixed)"}
    return words.get(type(module).__name__, type(module).__name__)


# Layers that start a row of the layer table; an upsampling or padding layer (or whatever comes before
# the first of them) opens the row of the layer that follows it, everything else joins the
# row of the layer before it.
_ROW_LAYERS = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)
_OPENING_LAYERS = (torch.nn.Upsample, torch.nn.ZeroPad2d)  # they belong to the layer they feed


def architecture_rows(model: torch.nn.Module, input_shape: tuple[int, ...]) -> list[list]:
    """Rows (part, layers in words, output shape, parameters) of a layer table: each
    convolution or fully connected layer with the normalisation and activation that
    follow it, from one forward pass of a zero batch."""
    rows: list[list] = []
    pending: list[str] = []  # upsampling layers waiting for the convolution they feed
    hooks = []
    for name, module in model.named_modules():
        if list(module.children()):
            continue
        part = name.split(".")[0]

        def record(m, _inputs, output, part=part):
            shape = "×".join(str(size) for size in output.shape[1:])
            params = sum(p.numel() for p in m.parameters())
            if isinstance(m, _OPENING_LAYERS) or not (rows or isinstance(m, _ROW_LAYERS)):
                pending.append(_layer_words(m))
            elif isinstance(m, _ROW_LAYERS):
                rows.append([part, ", ".join([*pending, _layer_words(m)]), shape, params])
                pending.clear()
            else:
                rows[-1][1] += ", " + _layer_words(m)
                rows[-1][2], rows[-1][3] = shape, rows[-1][3] + params

        hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return [[part, words, shape, f"{params:,}"] for part, words, shape, params in rows]
