"""Ray jobs: saved graphs submitted to a cluster through Ray's Jobs API, their results, local clusters."""
