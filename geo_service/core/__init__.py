"""The core floor: domain, dataset, io, crs, index, network, coverage, store; imports no floor above it."""
