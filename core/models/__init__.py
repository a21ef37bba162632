"""Model registry: ``MODELS.get(name)(cfg, ...)`` builds a model. Importing this package registers all."""
