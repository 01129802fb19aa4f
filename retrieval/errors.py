"""Sanad's domain errors. The edges (CLI, bot) turn them into user-facing text."""


class SanadError(Exception):
    """Base of every error Sanad raises on purpose."""


class ArticleFormatError(SanadError):
    """A source file cannot be read as an article (empty, binary, bad encoding, ...)."""


class IndexNotBuilt(SanadError):
    """A question was asked before any index was built."""


class ModelNotFound(SanadError):
    """The configured embedding model cannot be loaded from where it was said to be."""


class SettingsError(SanadError):
    """A setting is missing or malformed."""
