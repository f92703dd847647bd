"""Errors the user sees as one line: what went wrong, naming the file, layer or rule.

Every module of the project raises a subclass of :class:`ScnnError` for bad input
(unreadable audio, malformed NetX/NIR, unsupported layer, parameter out of the
chip's range).  The ``scnn`` command prints ``error: <message>`` and exits with
status 2; a traceback is reserved for bugs.
"""


class ScnnError(Exception):
    """Bad input or configuration; the message is the one line the user sees."""


class HardwareRuleError(ScnnError):
    """A network violates a named rule of the chip (bit width, range, core limit)."""

    def __init__(self, rule: str, layer: str, detail: str) -> None:
        self.rule, self.layer, self.detail = rule, layer, detail
        super().__init__(f"hardware rule {rule!r} violated by layer {layer}: {detail}")
