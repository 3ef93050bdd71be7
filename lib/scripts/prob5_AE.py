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

from lib import models  # noqa: E402
from lib.scripts._common import parser, setup, train_autoencoder_and_save  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = parser("Problem 5.4: MLP auto-encoder with a 2-D code", default_epochs=10, default_out="mnist_ae.pt")
    p.add_argument("--hidden", type=int, nargs=3, default=[512, 256, 128], help="hidden sizes of the encoder")
    p.add_argument("--latent-dim", type=int, default=2)
    args = p.parse_args(argv)
    device = setup(args)
    model = models.MLPAutoencoder(args.latent_dim, tuple(args.hidden))
    train_autoencoder_and_save(model, args, device, "prob5 MLP AE", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
