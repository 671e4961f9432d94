"""What the daemon and its clients agree on, importing neither: the entity model's ids and
kinds, the answers' shapes, the one as-of grammar and the default paths."""
