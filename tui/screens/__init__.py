"""The explorer's pages (one per view) and its modal prompts."""
