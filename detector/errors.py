"""Errors that carry a message meant for a person, not a traceback."""


class DetectorError(Exception):
    """Base class: str(error) is a complete, user-facing sentence."""


class InputError(DetectorError):
    """The file given is not something we can analyse (corrupt, too big, wrong type)."""


class CheckpointError(DetectorError):
    """A model folder is missing, tampered with or inconsistent."""
