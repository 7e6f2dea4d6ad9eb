"""The package version, a module of its own so that the serializer can stamp files without importing the API."""
__version__ = "0.1.0"
