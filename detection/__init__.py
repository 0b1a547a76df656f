"""Detection: signatures and anomaly models over events, fused into alerts.

Detection knows the event schema (``liaowang``) and nothing of capture or storage.
"""
