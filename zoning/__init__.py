"""carezones domain layer: inputs, validation, units, travel, scenarios, pipeline and CLI."""

__all__ = ["__version__"]
__version__ = "0.1.0"
