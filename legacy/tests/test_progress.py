"""The per-collection progress bar is drawn on a terminal only."""

import io

from legacy.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_that_ends_full():
    stream = Terminal()
    progress = Progress("users", 3, stream)
    for _ in range(3):
        progress.step()
    progress.close()
    last_frame = stream.getvalue().rstrip("\n").rsplit("\r", 1)[-1]
    assert last_frame == "users        [" + "#" * 30 + "] 3/3"


def test_a_pipe_or_log_file_gets_nothing():
    stream = io.StringIO()
    progress = Progress("users", 3, stream)
    progress.step()
    progress.close()
    assert stream.getvalue() == ""
