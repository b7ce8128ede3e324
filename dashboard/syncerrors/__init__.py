"""The Sync errors tab: failures grouped by signature across cycles, their
record timelines, and the rollups that keep the groups current as reports
are applied."""
