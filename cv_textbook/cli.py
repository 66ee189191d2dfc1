"""``python -m cv_textbook``: list, inspect, train and evaluate the textbook's models.

Errors a user can fix (an unknown model, a bad argument, missing data) end in one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cv_textbook.data import segmentation  # NumPy only: the label modes for --labels
from cv_textbook.quiet import import_tensorflow_quietly

# The commands import the package's modules inside their functions: `import cv_textbook.cli` stays
# free of TensorFlow, so a mistyped name or argument is answered at once, before the slow import.


class UsageError(Exception):
    """A mistake in the command line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see `python -m cv_textbook {self.prog.split()[-1]} --help`)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cv_textbook", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="the registered models")
    commands.add_parser("data", help="check the Fashion-MNIST files and say where they are")

    summary = commands.add_parser("summary", help="layer table, parameters and MACs of a model")
    summary.add_argument("model")

    train = commands.add_parser("train", help="train a model on the real Fashion-MNIST")
    train.add_argument("model")
    train.add_argument("--epochs", type=_positive_int, help="default: the model's classroom recipe")
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--learning-rate", type=_positive_float)
    train.add_argument("--train-examples", type=_positive_int, metavar="N",
                       help="train on N examples (90%% of them; 10%% validate) for a quicker run (default: all)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="run folder (default: a new folder under runs/)")
    train.add_argument("--fresh", action="store_true", help="ignore the backup of an interrupted run in --out")
    train.add_argument("--labels", choices=segmentation.MODES,
                       help="segmentation models: item/background/border (default) or the 10 garment classes")

    evaluate = commands.add_parser("evaluate", help="evaluate a saved run on the Fashion-MNIST test set")
    evaluate.add_argument("run_dir")

    bench = commands.add_parser("bench", help="training speed: the package against plain model.fit on NumPy arrays")
    bench.add_argument("--model", action="append", dest="models", metavar="NAME",
                       help="a registered model with a benchmark target; repeat for more (default: lenet5 and "
                            "resnet20)")
    bench.add_argument("--epochs", type=_positive_int, metavar="N",
                       help="epochs of each way, the first one warm-up (default: the recipe's; fewer for a "
                            "quick speed check, e.g. 4)")
    bench.add_argument("--train-examples", type=_positive_int, metavar="N",
                       help="take N training images, 90%% of them trained on as in `train` (default: all 60,000)")
    bench.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"),
                       help="the package's precision (default: the device's, for each model's recipe)")
    bench.add_argument("--baseline-batch-size", type=_positive_int, metavar="N", default=32,
                       help="the baseline's batch size (default: 32, Keras's own default)")
    bench.add_argument("--compare-precision", action=argparse.BooleanOptionalAction, default=True,
                       help="also train the package's way in mixed_bfloat16 (float32 if that is the default)")
    bench.add_argument("--target", type=_positive_float, metavar="ACC",
                       help="the test accuracy to time, instead of the spec's (lenet5 0.91, resnet20 0.93)")
    bench.add_argument("--task", choices=("classification", "detection"), default="classification",
                       help="detection: train and time R-CNN, Fast R-CNN and Faster R-CNN side by side (mAP, "
                            "seconds per image, the proposals' share)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--json", metavar="PATH", help="write the report here, and a bar chart beside it (.png)")

    handout = commands.add_parser("handout", help="student copies of the chapter notebooks: solutions "
                                                  "removed, exercise outputs cleared")
    handout.add_argument("out_dir", metavar="OUT_DIR", help="folder for the copies (not notebooks/ itself)")
    handout.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                         help="the notebooks to copy (default: every chapter notebook in notebooks/)")
    return parser


def cmd_list(args) -> None:
    from cv_textbook import models

    import_tensorflow_quietly()  # describe() imports the builders' modules

    chapter = None
    for spec in models.specs():
        if spec.chapter != chapter:
            chapter = spec.chapter
            print(f"{'' if chapter == models.specs()[0].chapter else chr(10)}Chapter {chapter:02d}: "
                  f"{models.CHAPTERS[chapter]}")
        print(f"  {spec.name:14s} {spec.task:15s} {models.describe(spec.name)}")


def cmd_data(args) -> None:
    from cv_textbook.data import FASHION_MNIST_CLASSES, fashion_mnist_source, load_fashion_mnist

    (x_train, _), (x_test, _) = load_fashion_mnist()
    print(
        f"Fashion-MNIST OK: {len(x_train):,} training and {len(x_test):,} test images, "
        f"{len(FASHION_MNIST_CLASSES)} classes, checked against their SHA-256, read from {fashion_mnist_source()}"
    )


def cmd_summary(args) -> None:
    from cv_textbook import models

    models.check_name(args.model)
    import_tensorflow_quietly()
    from cv_textbook import analysis

    model = models.build(args.model)
    model.summary()
    counts = analysis.count_params(model)
    print(f"parameters: {counts['total']:,} ({counts['trainable']:,} trainable)")
    if hasattr(model, "loss_names"):  # a detector: its heads run once per region, as many as it proposes
        if hasattr(model, "backbone"):
            macs = analysis.format_count(analysis.count_macs(model.backbone))
            print(f"multiply-accumulates per image: {macs} in the backbone, then the heads once per region")
        else:
            macs = analysis.format_count(analysis.count_macs(model.classifier))
            print(f"multiply-accumulates per region: {macs} (R-CNN runs its CNN once per proposal)")
        return
    print(f"multiply-accumulates per image: {analysis.format_count(analysis.count_macs(model))}")


def cmd_train(args) -> None:
    from cv_textbook import models

    models.check_name(args.model)  # before the slow framework import below
    import_tensorflow_quietly()
    from cv_textbook import tasks, train

    metrics = train.run_experiment(
        args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        out=args.out,
        seed=args.seed,
        resume=not args.fresh,
        train_examples=args.train_examples,
        labels=args.labels,
        verbose=1 if sys.stdout.isatty() else 2,  # a live bar in a terminal, one line per epoch in a log
    )
    loss = f", test loss {metrics['test_loss']:.4f}" if "test_loss" in metrics else ""
    print(
        f"{args.model}: {tasks.from_record(metrics).headline(metrics)}{loss}, "
        f"{metrics['epochs']} epochs, {metrics['examples_per_second']:,.0f} examples/s on {metrics['device']}"
    )
    print(f"wrote model.keras, metrics.json, history.csv, history.json and history.png to {metrics['run_dir']}")


def cmd_evaluate(args) -> None:
    import_tensorflow_quietly()
    from cv_textbook import models, tasks

    run_dir = Path(args.run_dir)
    model_path = run_dir / "model.keras"
    if not model_path.is_file():
        raise UsageError(f"{model_path} does not exist: pass the folder a `train --out DIR` run wrote.")
    model = models.load_model(model_path)
    metrics_path = run_dir / "metrics.json"
    claimed = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}

    task = tasks.from_record(claimed)
    test = task.load_test(claimed)
    result = task.evaluate(model, test)
    loss = f", test loss {result['test_loss']:.4f}" if "test_loss" in result else ""
    print(f"{model.name}: {task.headline(result)}{loss} on {task.describe_test(len(test[0]))}")
    if claimed:
        print(f"metrics.json claims {task.headline(claimed)} on {claimed['test_examples']:,} test examples")


def cmd_bench(args) -> None:
    from cv_textbook import models

    for name in args.models or ():
        models.check_name(name)  # before the slow framework import below
    if args.target is not None and args.target > 1:
        raise UsageError(f"--target is a test accuracy between 0 and 1, got {args.target}")
    import_tensorflow_quietly()
    from cv_textbook import bench

    if args.task == "detection":
        report = bench.run_detection_benchmark(args.models, epochs=args.epochs, train_examples=args.train_examples,
                                               seed=args.seed, json_path=args.json,
                                               log=lambda line: print(line, flush=True))
        print()
        print(bench.format_detection_report(report))
        return
    report = bench.run_benchmark(
        args.models,
        epochs=args.epochs,
        train_examples=args.train_examples,
        precision=args.precision,
        baseline_batch_size=args.baseline_batch_size,
        compare_precision=args.compare_precision,
        target=args.target,
        seed=args.seed,
        json_path=args.json,
        log=lambda line: print(line, flush=True),
    )
    print()
    print(bench.format_report(report))
    if args.json:
        print(f"wrote {args.json} and {bench.chart_path(args.json)}")


def cmd_handout(args) -> None:
    from cv_textbook import notebook_runner

    paths = args.notebooks or notebook_runner.chapter_notebooks()
    written = notebook_runner.write_handouts(args.out_dir, paths)
    print(f"wrote {len(written)} student cop{'y' if len(written) == 1 else 'ies'} to {args.out_dir}: "
          f"{', '.join(path.name for path in written)}")


COMMANDS = {
    "list": cmd_list,
    "data": cmd_data,
    "summary": cmd_summary,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "bench": cmd_bench,
    "handout": cmd_handout,
}


def main(argv=None) -> int:
    from cv_textbook.data import DatasetError

    try:
        args = make_parser().parse_args(argv)
        COMMANDS[args.command](args)
    except (UsageError, ValueError, DatasetError) as error:
        message = " ".join(str(error).split())  # one line, whatever the message's layout
        print(f"cv_textbook: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cv_textbook: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    return 0
