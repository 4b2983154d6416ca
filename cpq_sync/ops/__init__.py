"""Operating the sync: Sync Record queries and retention, Prefect rate limits and locks, live-sync switch,
credentials in Prefect Secret blocks, and the local Prefect stack (`cpq-sync up` / `down`)."""
