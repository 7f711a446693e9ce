"""polyteam: a small AI software team where every Role and every Action runs on its own LLM."""

__version__ = "0.1.0"

__all__ = ["__version__"]
