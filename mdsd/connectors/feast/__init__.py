"""Everything Feast: the connector that reads a Feast registry (``mds[feast]``), the mapping
of its objects onto mds entities, and the poll that stands in for the change events Feast
does not send."""
