"""The API: REST, GraphQL and the change stream, served on the socket; it reads through
``mdsd.reads`` and feeds intake, and knows the rest of the daemon only through its ports."""
