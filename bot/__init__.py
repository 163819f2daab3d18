"""AlignChat: answers questions about AI alignment from a library of articles, with citations."""

__version__ = "0.1.0"
