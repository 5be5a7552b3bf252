"""artreg's version, in a module of its own so nothing below the package imports its __init__."""

__version__ = "0.1.0"
