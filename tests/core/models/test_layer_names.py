"""Layers named as people say them, numbered per kind in forward order (core/models/layer_names.py)."""

import torch

from core.models.layer_names import layer_names
from core.training.runs import RunConfig, build_everything, validate


def _model(name: str) -> torch.nn.Module:
    built = build_everything(validate(RunConfig.make(model=name, quick=True, device="cpu")))
    return next(o for o in built if isinstance(o, torch.nn.Module))


def test_cnn_layers_are_conv_pool_dense():
    names = layer_names(_model("cnn"))
    assert names["conv.0"] == "conv 1" and names["conv.3"] == "conv 2"
    assert names["conv.2"] == "pool 1" and names["conv.5"] == "pool 2"
    assert names["classifier.1"] == "dense 2"


def test_graph_layers_are_one_name_each_not_their_parts():
    names = layer_names(_model("cheb"))
    assert names["convs.0"] == "graph conv 1" and names["convs.1"] == "graph conv 2"
    assert not any(p.startswith("convs.0.") for p in names)  # a ChebConv's K linear maps are not layers of their own


def test_steerable_net_names_carry_no_class_names():
    names = layer_names(_model("escnn"))
    assert names["body.0.1"] == "steerable conv 1" and names["body.0.4"] == "pool 1"
    assert names["body.0.0"] == "round mask 1" and names["head"] == "group pool"
    assert not any("(" in n or "Module" in n for n in names.values())
