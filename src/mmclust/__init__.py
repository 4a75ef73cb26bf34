"""mmclust: deep multi-modal clustering, reproduced end to end."""

__version__ = "0.1.0"
