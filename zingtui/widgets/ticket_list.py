"""The ticket list's old address, kept for ``bench/tui.py``: the list lives in ``zingtui.widgets.queue.ticket_list``."""

from zingtui.widgets.queue.ticket_list import ROW, TicketList

__all__ = ["ROW", "TicketList"]
