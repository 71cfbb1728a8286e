"""Sky models: parameters, spectral and spatial families, SkyModel, backgrounds, YAML I/O."""
