"""Errors that the command line turns into one clear message instead of a traceback."""


class HarnessError(Exception):
    """A problem the user can fix: the message names the file or config key and what to do."""


class ImageError(HarnessError):
    """An image that cannot be read or has the wrong shape; the message names the file."""


class ConfigError(HarnessError):
    """A config that does not validate; the message names the key and what is allowed."""


class DatasetError(HarnessError):
    """A dataset tree that matches no known layout, or whose pairs do not line up."""


class DivergenceError(HarnessError):
    """A loss became NaN or inf; training stopped and the last good checkpoint was kept."""


class OutOfMemory(HarnessError):
    """A job ran out of memory; the message names the input and the settings that lower the need."""
