"""The one error every dataset loader raises: a file missing, truncated or not the genuine one."""


class DatasetError(RuntimeError):
    """A dataset file is missing, truncated or not the genuine file; the message says what to do."""
