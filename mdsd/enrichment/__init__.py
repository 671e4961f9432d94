"""Enrichment: the background loop that hydrates stubs, infers cross-system edges from rules
(and retracts them when their support goes) and reconciles with the sources' listings."""
