"""Reusable widgets: list views with vim keys, the filter bar and the page chrome."""
