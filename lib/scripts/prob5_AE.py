"""Problem 5.4 (AMTH/CPSC 663 Exercise II): a fully connected auto-encoder that embeds MNIST
in two dimensions (four linear layers with ReLU each way, no nonlinearity on the code), Adam
with learning rate 0.001.

    python prob5_AE.py --epochs 10            # -> mnist_ae.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the bundled lib (next to this script) importable
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib import cache, models, train, zoo  # noqa: E402
from lib.scripts._common import parser, setup  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = parser("Problem 5.4: MLP auto-encoder with a 2-D code", default_epochs=10, default_out="mnist_ae.pt")
    p.add_argument("--hidden", type=int, nargs=3, default=[512, 256, 128], help="hidden sizes of the encoder")
    p.add_argument("--latent-dim", type=int, default=2)
    args = p.parse_args(argv)
    device = setup(args)
    train_x, _ = zoo.mnist_images("train", args.train_size, pad=0)
    test_x, _ = zoo.mnist_images("test", pad=0)
    model = models.MLPAutoencoder(args.latent_dim, tuple(args.hidden))
    history = train.fit_reconstruction(
        model,
        train_x,
        test_x,
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        device=device,
        name="prob5 MLP AE",
    )
    out = cache.export_state_dict(model, Path(args.out))
    print(f"test MSE {history['test_mse'][-1]:.5f}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
