"""The lineage graph as a picture, for mds-tui and ``mds lineage``: flow orientation
(``flow``) and a layered layout on a character grid (``layout``), free of any widget."""
