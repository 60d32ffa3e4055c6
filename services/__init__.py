"""The three services of influencers: ingest, identity and analytics."""
