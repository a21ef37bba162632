"""Superpixel graph networks: PyG layers over per-image SLIC graphs, PyG batching, global pooling.

Each image has its own graph (nodes = superpixels with features [mean intensity, x, y]), so
batching is PyG's block-diagonal ``Batch``; the readout concatenates global mean and max pooling,
which is right here because the node features carry the positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserInputError
from core.models.base import ModelConfig
from core.models.registry import MODELS

SUPERPIXEL_CONVS = ("gcn", "gat", "gin", "sage", "cheb")


def make_pyg_conv(name: str, c_in: int, c_out: int, cfg: ModelConfig) -> nn.Module:
    """A PyG reference layer by name (the same names as the fixed-graph layers)."""
    from torch_geometric import nn as gnn

    if name == "gcn":
        return gnn.GCNConv(c_in, c_out)
    if name == "gat":
        heads = max(1, cfg.heads)
        return gnn.GATConv(c_in, max(1, c_out // heads), heads=heads)
    if name == "gin":
        return gnn.GINConv(nn.Sequential(nn.Linear(c_in, c_out), nn.ReLU(), nn.Linear(c_out, c_out)), train_eps=True)
    if name == "sage":
        return gnn.SAGEConv(c_in, c_out)
    if name == "cheb":
        return gnn.ChebConv(c_in, c_out, K=cfg.K)
    raise UserInputError("conv", f"unknown superpixel layer {name!r} (choose from {', '.join(SUPERPIXEL_CONVS)})")


class SuperpixelNet(nn.Module):
    """batch (PyG Batch: x (N_total, 3), edge_index, batch) -> logits (B, num_classes).

    h = ReLU(BN(conv_l(h))) for each layer; readout [mean_pool(h) || max_pool(h)] -> FC -> classifier.
    """

    def __init__(self, cfg: ModelConfig, in_channels: int = 3):
        super().__init__()
        self.conv_name = cfg.conv
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        width, target = in_channels, cfg.hidden * 2
        for _ in range(max(1, cfg.layers)):
            self.convs.append(make_pyg_conv(cfg.conv, width, target, cfg))
            # GAT concatenates its heads: heads * (target // heads) channels
            width = target if cfg.conv != "gat" else max(1, target // max(1, cfg.heads)) * max(1, cfg.heads)
            self.norms.append(nn.BatchNorm1d(width))
        self.fc = nn.Sequential(nn.Linear(2 * width, 128), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(128, cfg.num_classes))

    def features(self, batch) -> torch.Tensor:
        from torch_geometric.nn import global_max_pool, global_mean_pool

        h = batch.x  # (N_total, 3)
        for conv, norm in zip(self.convs, self.norms):
            h = F.relu(norm(conv(h, batch.edge_index)))  # (N_total, C)
        pooled = torch.cat([global_mean_pool(h, batch.batch), global_max_pool(h, batch.batch)], dim=1)
        return self.fc(pooled)  # (B, 128)

    def forward(self, batch) -> torch.Tensor:
        return self.classifier(self.features(batch))


@MODELS.register("superpixel")
def build_superpixel(cfg: ModelConfig, graph=None, image_size: int = 28) -> SuperpixelNet:
    if cfg.conv not in SUPERPIXEL_CONVS:
        raise UserInputError("conv", f"unknown superpixel layer {cfg.conv!r} (choose from {', '.join(SUPERPIXEL_CONVS)})")
    return SuperpixelNet(cfg)
