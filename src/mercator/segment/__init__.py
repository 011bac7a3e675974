"""Segment: who the customers are. RFM scores and named segments; behavioural clusters.

Scores are computed in the engine (``_rfm``); the result carries segment sizes and
profiles, and the segmentation is saved to the workspace (``segments`` with each segment's
logic, ``segment_members`` with who is in it) so a target list can always be traced back.
"""

from mercator.segment._analysis import (
    FEATURES,
    RFM_SEGMENTS,
    ClusterResult,
    RfmResult,
    cluster,
    customer_features,
    rfm,
)

__all__ = ["FEATURES", "RFM_SEGMENTS", "ClusterResult", "RfmResult", "cluster", "customer_features", "rfm"]
