"""Wall time of the whole training command to reach given test accuracies: our recipes
(fast, five-minutes, ten-seconds) against the classic PyTorch MNIST example, side by side,
medians of several runs.

    python -m benchmarks.time_to_accuracy --data-dir ../shared/data [--repeats 3]
        [--datasets fashion-mnist] [--recipes five-minutes] [--no-reference]
    python -m benchmarks.time_to_accuracy --recipes ten-seconds --datasets mnist --seeds 0 1 2 3 4

``--seeds``: each recipe once per seed, as it is: whether its figure holds across seeds.

Ours: ``python -m training --recipe R --dataset D --epochs E`` for each (R, E) of a ladder,
timed from start to exit (imports, data, training, evaluation, checkpoint, OOD fit); its
accuracy is the checkpoint's test accuracy. "after" is the share of the run spent after the
last training step, as the command logs it.

The reference, written the classic way (pytorch/examples mnist/main.py): the 2-conv net
(32 and 64 filters, dropout, a 9216-128-10 head), a per-sample ``DataLoader`` of
``ToTensor`` + ``Normalize`` at batch 64, Adadelta at lr 1.0 with StepLR(gamma 0.7), the
test set after each epoch. Its time to an accuracy is the time from start to the end of
the first epoch whose test accuracy reaches it: the command, had it stopped there.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from training.config import RECIPES

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"mnist": (99.0, 99.5), "fashion-mnist": (92.0, 93.5)}
# (recipe, --epochs) of each command timed: a shorter fast run, then each recipe as it is
LADDER = {d: (("fast", shorter), *((r, RECIPES[r][d]["epochs"]) for r in sorted(RECIPES)))
          for d, shorter in (("mnist", 1), ("fashion-mnist", 7))}


def reference(dataset: str, data_dir: str, epochs: int) -> None:
    """The classic example; prints one JSON line per epoch: {"epoch", "accuracy"}."""
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torch import nn
    from torchvision import transforms

    from training.data import read_split

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
            self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
            self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
            return F.log_softmax(self.fc2(self.dropout2(x)), dim=1)

    class Images(torch.utils.data.Dataset):  # as torchvision's MNIST serves them
        def __init__(self, split):
            self.images, self.labels = read_split(data_dir, dataset, split, download=False)
            self.transform = transforms.Compose([transforms.ToTensor(),
                                                 transforms.Normalize((0.1307,), (0.3081,))])

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(self.images[i].numpy(), mode="L")), \
                int(self.labels[i])

    torch.manual_seed(1)
    train = torch.utils.data.DataLoader(Images("train"), batch_size=64, shuffle=True)
    test = torch.utils.data.DataLoader(Images("test"), batch_size=1000)
    model = Net()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    for epoch in range(1, epochs + 1):
        model.train()
        for x, y in train:
            opt.zero_grad()
            F.nll_loss(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test)
        print(json.dumps({"epoch": epoch, "accuracy": 100 * correct / len(test.dataset)}),
              flush=True)
        sched.step()


def time_reference(dataset: str, data_dir: str, epochs: int) -> list[tuple[float, float]]:
    """[(seconds from start, test accuracy %)] after each epoch of one reference run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.time_to_accuracy", "--reference",
                             dataset, "--data-dir", data_dir, "--epochs", str(epochs)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    points = [(time.perf_counter() - t0, json.loads(line)["accuracy"]) for line in proc.stdout]
    if proc.wait():
        raise SystemExit(f"reference run failed ({proc.returncode})")
    return points


def time_ours(dataset: str, data_dir: str, recipe: str, epochs: int,
              seed: int = 0) -> tuple[float, float, float]:
    """(seconds, test accuracy %, seconds after training) of one recipe's command."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "training", "--dataset", dataset,
                               "--recipe", recipe, "--epochs", str(epochs), "--data-dir",
                               data_dir, "--out-dir", out, "--no-progress", "--seed", str(seed)],
                              cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if done.returncode:
            raise SystemExit(f"training failed:\n{done.stderr[-2000:]}")
        after = float(re.search(r"after training: ([\d.]+)s", done.stdout).group(1))
        metrics = json.loads(next(Path(out).glob("*/metrics.json")).read_text())
    return seconds, 100 * metrics["test_accuracy"], after


def across_seeds(datasets, data_dir: str, recipes, seeds) -> None:
    """One run of each recipe as it is per seed: test accuracy and the whole command's time."""
    print("| recipe | dataset | " + " | ".join(f"seed {s}" for s in seeds)
          + " | lowest | median time (s) |\n|" + " --- |" * (len(seeds) + 4))
    for dataset in datasets:
        for recipe in recipes:
            runs = [time_ours(dataset, data_dir, recipe, RECIPES[recipe][dataset]["epochs"], s)
                    for s in seeds]
            accs = [r[1] for r in runs]
            print(f"| {recipe} | {dataset} | " + " | ".join(f"{a:.2f}%" for a in accs)
                  + f" | {min(accs):.2f}% | {statistics.median(r[0] for r in runs):.1f} |",
                  flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.time_to_accuracy",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--datasets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--recipes", nargs="+", default=sorted(RECIPES),
                   choices=sorted(RECIPES),
                   help="time only these recipes' rungs (default: all)")
    p.add_argument("--no-reference", action="store_true", help="skip the classic example")
    p.add_argument("--reference-epochs", type=int, default=2,
                   help="epochs of each reference run (default: 2)")
    p.add_argument("--seeds", type=int, nargs="+",
                   help="run each recipe as it is once per seed, and report each seed")
    p.add_argument("--reference", help=argparse.SUPPRESS)  # run the reference itself
    p.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.reference:
        return reference(args.reference, args.data_dir, args.epochs)
    data_dir = str(Path(args.data_dir).resolve())
    if args.seeds:
        return across_seeds(args.datasets, data_dir, args.recipes, args.seeds)
    import torch
    print(f"{args.repeats} runs each, {torch.get_num_threads()} threads\n")
    for dataset in args.datasets:
        ours = {rung: [time_ours(dataset, data_dir, *rung) for _ in range(args.repeats)]
                for rung in LADDER[dataset] if rung[0] in args.recipes}
        refs = [] if args.no_reference else [
            time_reference(dataset, data_dir, args.reference_epochs) for _ in range(args.repeats)]
        print(f"## {dataset}\n\n| command | whole command (s) | test accuracy | after training |"
              "\n| --- | --- | --- | --- |")
        rows = {}
        for (recipe, e), runs in ours.items():
            s, acc = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            share = statistics.median(r[2] / r[0] for r in runs)
            rows[f"--recipe {recipe} --epochs {e}"] = (s, acc)
            print(f"| --recipe {recipe} --epochs {e} | {s:.1f} | {acc:.2f}% | {share:.0%} |")
        for k in range(args.reference_epochs if refs else 0):
            s = statistics.median(r[k][0] for r in refs)
            acc = statistics.median(r[k][1] for r in refs)
            print(f"| classic example, {k + 1} epoch{'s' * (k > 0)} | {s:.1f} | {acc:.2f}% | 0% |")
        print("\n| target | ours | classic example |\n| --- | --- | --- |")
        for target in TARGETS[dataset]:
            mine = [(s, command) for command, (s, acc) in rows.items() if acc >= target]
            theirs = [statistics.median(r[k][0] for r in refs)
                      for k in range(args.reference_epochs if refs else 0)
                      if statistics.median(r[k][1] for r in refs) >= target]
            print(f"| {target}% | "
                  + (f"{min(mine)[0]:.1f} s ({min(mine)[1]})" if mine else
                     "not reached by the commands timed") + " | "
                  + (f"{theirs[0]:.1f} s" if theirs else
                     f"not reached in {args.reference_epochs} epochs" if refs else "-") + " |")
        print(flush=True)


if __name__ == "__main__":
    main()
