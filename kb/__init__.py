"""omnikb: a multilingual knowledge base that answers with verbatim, cited passages."""

__version__ = "0.1.0"
