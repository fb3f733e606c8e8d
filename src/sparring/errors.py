"""The one exception type that the CLI turns into a single clear line and exit code 2.

Anything the user can fix (a bad option, a missing file, a run directory that is not a run)
raises ``UserError``; everything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""
