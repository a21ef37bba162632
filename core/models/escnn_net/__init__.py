"""The steerable CNN (escnn): ``net`` holds ``EscnnNet``, its prototype cache, its config and its registered spec;
``sizes`` its field sizes and widths (from the config alone); ``groups`` the one group parser, group schedules and
escnn's group elements; ``export`` the plain-torch twins ``EscnnNet.export()`` builds; ``patch`` a fix for escnn
1.0.11 with scikit-learn >= 1.6.

Importing this package does not import escnn (seconds): its modules import escnn only inside the functions that build
or export a net, so ``core.models`` imports the package (and registers the model) at once.
"""

from core.models.escnn_net.export import ExportedEscnnNet, RingPool, ring_weights
from core.models.escnn_net.groups import (
    FAMILIES,
    GROUPS,
    MAX_N,
    escnn_element_of,
    is_subgroup,
    parse_group,
    parse_schedule,
    restricted_schedule,
    restriction_depth,
    restriction_id,
    schedule_name,
)
from core.models.escnn_net.net import EscnnNet, build_escnn, cached_escnn
from core.models.escnn_net.patch import patch_escnn
from core.models.escnn_net.sizes import MAX_LAYERS, MIN_LAYERS, SO2_MAX_FREQUENCY, field_size, fields_per_block

__all__ = [
    "FAMILIES",
    "GROUPS",
    "MAX_LAYERS",
    "MAX_N",
    "MIN_LAYERS",
    "SO2_MAX_FREQUENCY",
    "EscnnNet",
    "ExportedEscnnNet",
    "RingPool",
    "build_escnn",
    "cached_escnn",
    "escnn_element_of",
    "field_size",
    "fields_per_block",
    "is_subgroup",
    "parse_group",
    "parse_schedule",
    "patch_escnn",
    "restricted_schedule",
    "restriction_depth",
    "restriction_id",
    "ring_weights",
    "schedule_name",
]
