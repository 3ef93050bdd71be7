"""Problem 4 (AMTH/CPSC 663 Exercise II): train the CNN with 40 first-layer filters on MNIST,
report test accuracy, save its weights, its 40 filters and its test confusion matrix.

    python prob4_CNN.py --epochs 5            # -> mnist_cnn.pt, prob4_filters.png, prob4_confusion.png
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the bundled lib (next to this script) importable
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from lib import cache, models, plots, train, zoo  # noqa: E402
from lib.scripts._common import parser, setup  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = parser("Problem 4: CNN with 40 first-layer filters on MNIST", default_epochs=5, default_out="mnist_cnn.pt")
    p.set_defaults(lr=2e-3)
    p.add_argument("--filters", type=int, default=40, help="filters of the first convolution")
    args = p.parse_args(argv)
    device = setup(args)
    train_x, train_y = zoo.mnist_images("train", args.train_size, pad=0)
    test_x, test_y = zoo.mnist_images("test", pad=0)
    model = models.FilterCNN(args.filters)
    train.fit_classifier(
        model,
        train_x,
        train_y,
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        device=device,
        name="prob4 CNN",
        test_images=test_x,
        test_labels=test_y,
    )
    accuracy = train.evaluate_accuracy(model, test_x, test_y, device)
    train.warn_if_chance(accuracy, "prob4 CNN")
    out = cache.export_state_dict(model, Path(args.out))
    folder = out.parent
    plots.filter_grid(model.conv1.weight, f"First-layer filters ({args.filters}), test accuracy {accuracy:.4f}")
    plt.savefig(folder / "prob4_filters.png", bbox_inches="tight")
    predicted = train.predict(model, test_x, device).argmax(1).numpy()
    plots.confusion(confusion_matrix(test_y.numpy(), predicted, labels=list(range(10))), "Test-set confusion matrix")
    plt.savefig(folder / "prob4_confusion.png", bbox_inches="tight")
    print(f"test accuracy {accuracy:.4f}; wrote {out}, {folder / 'prob4_filters.png'}, {folder / 'prob4_confusion.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
