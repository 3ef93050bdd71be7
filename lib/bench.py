"""``make bench``: images per second of one auto-encoder training epoch with ``lib``'s loop,
in float32 and in the automatic training precision, versus the standard PyTorch idiom in
float32, alternated so that machine noise hits all three alike.

* ``lib`` float32: MNIST held as one in-memory float tensor of 28x28 images, batches
  taken by indexing a shuffled index tensor, channels-last memory layout, threads set to
  the core count, :func:`lib.train.train_epoch` (what every notebook does).
* ``lib`` auto: the same inside ``lib.precision.training(training_precision(cpu))``, so
  that ``train_epoch`` runs its forward pass under bfloat16 autocast on a CPU that computes
  bfloat16 natively (``avx512_bf16`` or ``amx_bf16``), in float32 elsewhere (then this row
  repeats the float32 one).  ``BUNDLE_PRECISION=float32`` turns it off, as in the build.
* idiom: ``torchvision.datasets.MNIST`` + ``transforms.ToTensor`` +
  ``DataLoader(batch_size, shuffle=True)`` in float32: one PIL image and one small tensor
  per sample, collated per batch.  (The model pads to 32x32 inside, for all three.)  It runs
  in a fresh Python process with glibc's default allocator, as a user's script would.
* Both lib rows run in a process with the allocator setting every model worker of the build
  has (:mod:`lib.allocator`: freed memory is kept, so steps do not page-fault); run as
  ``python -m lib.bench`` it restarts itself with that setting.

All train the same nn4i_ex2 d=10 auto-encoder with the same batch size, optimizer,
learning rate and loss for one epoch.  Each round runs lib float32, lib auto, idiom in
that order; the table gives each one's median images/s over the rounds and the medians of
the per-round ratios.  It also gives how close each loop comes to the machine's limit: the
floating-point operations of one training step (counted by ``torch.utils.flop_counter``)
per second, against a large matrix product with the same threads and in the same precision
(float32 for the float32 rows, bfloat16 for the auto row when auto is bfloat16): about the
most this CPU sustains in that precision.  With the defaults (60,000 images, 3 rounds) a
run takes about 1.5 minutes on an idle 2-core machine.  The numbers also go to
``report/bench.json``.

    python -m lib.bench [--repeats 3] [--train-size 60000] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lib import allocator, data, paths, precision, train
from lib.nn4i_ex2.models import ConvAutoencoder
from lib.utils import configure_threads, seed_everything

BATCH_SIZE = 128
LEARNING_RATE = 3e-3
CPU = torch.device("cpu")
MATMUL_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
# Images per warm-up epoch: enough batches for oneDNN to create the kernels of each layout
# and precision, so that the first timed round does not pay for them.
WARM_UP_IMAGES = 4 * BATCH_SIZE


def _model(channels_last: bool) -> torch.nn.Module:
    seed_everything(0)
    model = ConvAutoencoder(latent_dim=10, num_conv_layers=3, base_channels=16, hidden_units=256)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def auto_precision() -> tuple[str, str]:
    """What ``BUNDLE_PRECISION=auto`` trains in on this CPU, and why (one line)."""
    resolved = precision.training_precision(CPU)
    if precision.setting() == "float32":
        return resolved, "BUNDLE_PRECISION=float32 turns automatic precision off"
    bf16_flags = sorted(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    if resolved == "bfloat16":
        return resolved, f"/proc/cpuinfo lists {' and '.join(bf16_flags) or 'a native bfloat16 flag'}: native bfloat16"
    return resolved, "/proc/cpuinfo lists neither avx512_bf16 nor amx_bf16: no native bfloat16, so float32"


def _cpu_flags() -> set[str]:
    """The flags of the first CPU in ``/proc/cpuinfo`` (empty where there is none), to name
    the one that made ``auto`` choose bfloat16."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def lib_epoch(images: torch.Tensor, training_precision: str) -> float:
    """Seconds for one epoch over ``images`` (N, 1, 28, 28) with lib's in-memory batching,
    trained in ``training_precision`` (what :mod:`lib.cache` sets around a model's training)."""
    model = _model(channels_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, **train.fused(CPU))
    generator = torch.Generator().manual_seed(0)
    batches = ((images[idx], images[idx]) for idx in data.batch_indices(len(images), BATCH_SIZE, generator))
    with precision.training(training_precision):
        start = time.perf_counter()
        train.train_epoch(model, batches, optimizer, F.mse_loss, CPU)
        return time.perf_counter() - start


def training_flops_per_image() -> float:
    """Floating-point operations of one training step (forward, backward) per image (the
    same count in every precision: it is the number of multiply-adds, not their width)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _model(channels_last=True)
    images = torch.rand(BATCH_SIZE, 1, 28, 28).to(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter:
        F.mse_loss(model(images), images).backward()
    return counter.get_total_flops() / BATCH_SIZE


def matmul_flops_per_second(size: int = 1024, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Highest FLOP/s of ``repeats`` timings of a ``size`` x ``size`` matrix product in ``dtype``:
    a practical ceiling.  The highest, not the median: on this machine the bfloat16 rate
    jumps between about 350 and 1,150 GFLOP/s from one second to the next, and a ceiling
    is what the CPU reaches when nothing holds it back."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        rates.append(5 * 2 * size**3 / (time.perf_counter() - start))
    return max(rates)


def _torchvision_root() -> Path:
    """A folder laid out as torchvision's MNIST class expects (links to the verified files)."""
    root = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = data.ensure_mnist()
    for file in source.iterdir():
        if file.name.endswith("ubyte"):
            (raw / file.name).symlink_to(file)
    return root


def idiom_epoch(train_size: int, root: Path) -> float:
    """Seconds for one float32 epoch with torchvision's dataset, ToTensor and a DataLoader."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    if train_size < len(dataset):
        dataset = Subset(dataset, range(train_size))
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)
    model = _model(channels_last=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    start = time.perf_counter()
    model.train()
    for images, _ in loader:
        optimizer.zero_grad()
        loss = F.mse_loss(model(images), images)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def idiom_epoch_in_stock_process(train_size: int, root: Path, threads: int) -> float:
    """:func:`idiom_epoch` (after a warm-up epoch) in a new process with glibc's default
    allocator, as the idiom runs in a user's script; its seconds."""
    command = [sys.executable, "-m", "lib.bench", "--idiom-only", str(root), "--train-size", str(train_size)]
    command += ["--threads", str(threads)]
    result = subprocess.run(command, env=allocator.stock_env(), capture_output=True, text=True, cwd=paths.ROOT)
    if result.returncode != 0:
        raise RuntimeError(
            f"the torchvision idiom's process failed: {(result.stderr.strip().splitlines() or ['no message'])[-1]}"
        )
    return float(result.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of lib float32, lib auto, idiom (default 3)")
    parser.add_argument("--train-size", type=int, default=60000, help="images per epoch (default 60000)")
    parser.add_argument("--threads", type=int, default=1, help="compute threads (default 1: what each job of `make report` uses)")
    parser.add_argument("--idiom-only", type=Path, metavar="ROOT", help=argparse.SUPPRESS)  # internal: one idiom epoch
    args = parser.parse_args(argv)
    if args.idiom_only:
        os.environ["BUNDLE_THREADS"] = str(args.threads)
        configure_threads()
        idiom_epoch(min(WARM_UP_IMAGES, args.train_size), args.idiom_only)
        print(idiom_epoch(args.train_size, args.idiom_only))
        return 0
    if args.repeats < 1 or not 128 <= args.train_size <= 60000 or args.threads < 1:
        print(
            "error: --repeats and --threads must be >= 1 and --train-size in 128..60000; fix: e.g. --repeats 3 --threads 1",
            file=sys.stderr,
        )
        return 1
    try:
        auto, auto_reason = auto_precision()
    except ValueError as error:  # a BUNDLE_PRECISION that is no setting; its message names the fix
        print(f"error: {error}", file=sys.stderr)
        return 1
    os.environ["BUNDLE_THREADS"] = str(args.threads)
    threads = configure_threads()
    root = _torchvision_root()
    images = data.to_float(data.load_split("train").images[: args.train_size])  # (N, 1, 28, 28) in [0, 1], made once
    labels = {"lib": "lib, float32", "lib_auto": f"lib, auto = {auto}", "idiom": "torchvision + DataLoader, float32"}
    print(f"one epoch of the nn4i_ex2 d=10 auto-encoder on {args.train_size:,} images, batch {BATCH_SIZE}, {threads} threads")
    print(f"automatic precision on this CPU: {auto} ({auto_reason})")
    kept = "kept (as in the build's workers)" if allocator.configured() else "returned to the kernel (glibc's default)"
    print(f"lib rows: freed memory {kept}; idiom: a fresh process with glibc's defaults")

    lib_warm_up = images[:WARM_UP_IMAGES]
    lib_epoch(lib_warm_up, "float32")
    lib_epoch(lib_warm_up, auto)
    runs = []
    matmul_dtypes = {name: MATMUL_DTYPES[name] for name in dict.fromkeys(["float32", auto])}
    for repeat in range(1, args.repeats + 1):
        lib_s = lib_epoch(images, "float32")
        lib_auto_s = lib_epoch(images, auto)
        idiom_s = idiom_epoch_in_stock_process(args.train_size, root, threads)
        runs.append(
            {
                "lib_images_per_s": args.train_size / lib_s,
                "lib_auto_images_per_s": args.train_size / lib_auto_s,
                "idiom_images_per_s": args.train_size / idiom_s,
                # the ceiling is sampled every round, as the loops are, since the machine's speed drifts
                "matmul_flops_per_s": {name: matmul_flops_per_second(dtype=dtype) for name, dtype in matmul_dtypes.items()},
            }
        )
        print(
            f"round {repeat}/{args.repeats}, images/s: lib float32 {runs[-1]['lib_images_per_s']:.0f}   "
            f"lib auto {runs[-1]['lib_auto_images_per_s']:.0f}   "
            f"torchvision + DataLoader {runs[-1]['idiom_images_per_s']:.0f}",
            flush=True,
        )

    medians = {key: statistics.median(r[f"{key}_images_per_s"] for r in runs) for key in labels}
    # ratios within a round share that round's machine load, so their median is steadier than
    # the ratio of the medians
    ratios = {
        "lib_auto/idiom": statistics.median(r["lib_auto_images_per_s"] / r["idiom_images_per_s"] for r in runs),
        "lib_float32/idiom": statistics.median(r["lib_images_per_s"] / r["idiom_images_per_s"] for r in runs),
        "lib_auto/lib_float32": statistics.median(r["lib_auto_images_per_s"] / r["lib_images_per_s"] for r in runs),
    }
    flops = training_flops_per_image()
    # the ceiling of each row is a matrix product in the precision its products run in, the
    # fastest seen in any round
    ceilings = {name: max(r["matmul_flops_per_s"][name] for r in runs) for name in matmul_dtypes}
    row_precision = {"lib": "float32", "lib_auto": auto, "idiom": "float32"}

    print()
    print(f"{'median of ' + str(args.repeats) + ' rounds':36}{'images/s':>10}{'GFLOP/s':>10}   share of the matrix-product peak")
    for key, label in labels.items():
        rate = medians[key] * flops
        ceiling = ceilings[row_precision[key]]
        print(
            f"{label:36}{medians[key]:10.0f}{rate / 1e9:10.1f}   "
            f"{100 * rate / ceiling:3.0f}% of {ceiling / 1e9:.0f} GFLOP/s in {row_precision[key]}"
        )
    print(
        f"(one training step costs {flops / 1e6:.1f} MFLOP per image; peak: the fastest 1024x1024 matrix product "
        f"on {threads} threads in the row's precision, timed in every round)"
    )
    print()
    print("speed ratios (median of the per-round ratios):")
    ratio_lines = [
        (f"lib auto ({auto}) / torchvision + DataLoader", ratios["lib_auto/idiom"], "  (target >= 2x)"),
        ("lib float32 / torchvision + DataLoader", ratios["lib_float32/idiom"], ""),
        (f"lib auto ({auto}) / lib float32", ratios["lib_auto/lib_float32"], ""),
    ]
    width = max(len(name) for name, _, _ in ratio_lines)
    for name, ratio, note in ratio_lines:
        print(f"  {name:{width}}  {ratio:5.2f}x{note}")

    target = paths.report_dir() / "bench.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(
            {
                "train_size": args.train_size,
                "threads": threads,
                "auto_precision": auto,
                "auto_precision_reason": auto_reason,
                "lib_keeps_freed_memory": allocator.configured(),
                "runs": runs,
                "median_images_per_s": medians,
                "median_ratio": ratios["lib_float32/idiom"],
                "median_ratios": ratios,
                "training_flops_per_image": flops,
                "lib_flops_per_s": medians["lib"] * flops,
                "lib_auto_flops_per_s": medians["lib_auto"] * flops,
                "matmul_flops_per_s": ceilings["float32"],
                "matmul_auto_flops_per_s": ceilings[auto],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    if not allocator.configured():  # glibc reads the setting at start-up only: restart with it
        restart_env = allocator.keep_freed_memory(dict(os.environ))
        os.execve(sys.executable, [sys.executable, "-m", "lib.bench", *sys.argv[1:]], restart_env)
    sys.exit(main())
