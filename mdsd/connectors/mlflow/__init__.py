"""Everything MLflow: the connector (registered models, versions, runs, experiments), the
catch-up poll, and the webhook receiver that turns deliveries into thin events."""
