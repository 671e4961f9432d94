"""The layering of the packages, held by import contracts and by what imports load."""
