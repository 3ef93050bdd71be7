"""Problem 6 (AMTH/CPSC 663 Exercise II): the convolutional auto-encoder with a 2-D code
(6.1), optionally with skip connections from each pooling layer to its upsampling layer
(6.2, ``--skip``) and/or trained on inputs with Gaussian noise (6.3, ``--noise-std 0.3``).

    python prob6_CAE.py --epochs 10                       # -> mnist_cae.pt
    python prob6_CAE.py --epochs 10 --skip                # -> mnist-cae-skip.pt
    python prob6_CAE.py --epochs 10 --noise-std 0.3       # -> mnist_cae_denoising.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the bundled lib (next to this script) importable
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib import models  # noqa: E402
from lib.scripts._common import parser, setup, train_autoencoder_and_save  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = parser("Problem 6: convolutional auto-encoder with a 2-D code", default_epochs=10, default_out="")
    p.add_argument("--skip", action="store_true", help="add the pooling -> upsampling skip connections (6.2)")
    p.add_argument("--noise-std", type=float, default=0.0, help="standard deviation of the input noise (6.3: 0.3)")
    args = p.parse_args(argv)
    if args.noise_std < 0:
        raise SystemExit("error: --noise-std must be >= 0; fix: e.g. --noise-std 0.3")
    device = setup(args)
    default_name = ("mnist-cae-skip" if args.skip else "mnist_cae") + ("_denoising" if args.noise_std else "") + ".pt"
    model = models.SmallConvAutoencoder(latent_dim=2, skip=args.skip)
    name = "prob6 CAE" + (" + skips" if args.skip else "")
    train_autoencoder_and_save(model, args, device, name, args.out or default_name, noise_std=args.noise_std)
    return 0


if __name__ == "__main__":
    sys.exit(main())
