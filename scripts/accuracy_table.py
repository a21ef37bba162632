"""Train models and print a Markdown table with the published reference beside each (figures for the README).

    python scripts/accuracy_table.py [--epochs 8] [--seeds 0] [--only cnn,superpixel-gcn,...] [--threads 1]
    python scripts/accuracy_table.py --list

Each run goes through the same path as the app and the CLI (core.training.runs.execute) and is stored, so
the Results and Compare pages show them too. A row gives the mean test accuracy over the seeds (each seed
in brackets), the parameter count and the mean seconds per epoch. Seconds depend on what else ran on the
machine: compare rows of one invocation only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from core.training.runs import RunConfig, execute  # noqa: E402

SP = {"model": "superpixel", "graph": "superpixels"}
PAIR = {"model": "learned", "edge_inputs": "offset", "edge_activation": "tanh", "edge_norm": "none",
        "edge_sets": "pair"}
# name -> (settings that differ from RunConfig's defaults, published reference)
ENTRIES: dict[str, tuple[dict, str]] = {
    "mlp": ({"model": "mlp"}, "linear classifier on pixels ≈ 91% (Knyazev 2019, full MNIST)"),
    "cnn": ({"model": "cnn"}, "C32-P4-C64-P4-FC512 99.33% (Defferrard et al. 2016, full MNIST)"),
    "cheb": ({"model": "cheb"}, "GC32-P4-GC64-P4-FC512, K=25: 99.14% (Defferrard et al. 2016, full MNIST)"),
    "gcn": ({"model": "gcn"}, "-"),
    "sage": ({"model": "sage"}, "-"),
    "gin": ({"model": "gin"}, "-"),
    "gat": ({"model": "gat"}, "-"),
    "learned": ({"model": "learned"}, "learned from coordinates 91.05% (Knyazev 2019, one layer, full MNIST)"),
    "learned-pair": (PAIR, "a 3x3 CNN layer (see cnn)"),
    "learned-pair-frozen": ({**PAIR, "edge_frozen": True}, "control: edges fixed at initialisation"),
    "escnn": ({"model": "escnn", "group": "C8"}, "C8 on MNIST-rot 97.96% (escnn example, 30 epochs)"),
    "superpixel-gcn": ({**SP, "conv": "gcn"}, "GCN 90.71% (Benchmarking GNNs, 55k graphs)"),
    "superpixel-gat": ({**SP, "conv": "gat"}, "GAT 95.54%"),
    "superpixel-gin": ({**SP, "conv": "gin"}, "GIN 96.49%"),
    "superpixel-sage": ({**SP, "conv": "sage"}, "GraphSage 97.31%"),
    "superpixel-gatedgcn": ({**SP, "conv": "gatedgcn"}, "GatedGCN 97.34%"),
    "superpixel-monet": ({**SP, "conv": "monet"}, "MoNet 90.81% (91.11% Monti et al. 2017)"),
    "superpixel-pna": ({**SP, "conv": "pna"}, "PNA 97.94%"),
    "superpixel-cheb": ({**SP, "conv": "cheb"}, "-"),
}


def row(name: str, epochs: int, seeds: list[int]) -> str:
    settings, reference = ENTRIES[name]
    outs = [execute(RunConfig(epochs=epochs, seed=seed, **settings)) for seed in seeds]
    accs = [o["test_accuracy"] or 0.0 for o in outs]
    secs = statistics.mean(e["seconds"] for o in outs for e in o["epochs"])
    each = f" ({', '.join(f'{a:.1%}' for a in accs)})" if len(accs) > 1 else ""
    return (f"| {name} | {outs[0]['label']} | {statistics.mean(accs):.1%}{each} | {outs[0]['parameters']:,} | "
            f"{secs:.1f} | {reference} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--only", default=",".join(ENTRIES), help="comma-separated entry names (see --list)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--list", action="store_true", help="print the entry names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(ENTRIES))
        return
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENTRIES]
    if unknown:
        sys.exit(f"unknown entry {unknown[0]!r}; --list shows them")
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"mnist-5k (4,000 train / 1,000 test), {args.epochs} epochs, seeds {args.seeds}, CPU")
    print("| entry | run | test accuracy | parameters | s/epoch | published reference |")
    print("|---|---|---|---|---|---|")
    for name in names:
        print(row(name, args.epochs, seeds), flush=True)


if __name__ == "__main__":
    main()
