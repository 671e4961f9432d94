"""Replication: the fact log published to Kafka, transaction by transaction, in order.

``settings`` is the ``[replication]`` table, ``message`` the documented message format
(docs/replication.md, docs/replication.schema.json), ``publisher`` the outbox that publishes
what the fact log committed and remembers how far it got.
"""
