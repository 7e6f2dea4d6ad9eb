"""Jobs: distjit saved graphs as Ray jobs."""
