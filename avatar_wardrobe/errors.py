"""The project's one user-facing error type, with a message that says what to do."""


class WardrobeError(Exception):
    """A problem the user can fix: a bad file, a missing camera, missing weights.

    The message always says what went wrong and what to do about it.
    """
