"""The daemon's long-running loops, each built in ``zingd/app.py`` from the parts it uses: the
outbox (one sender per number), the campaign runner (one task per running campaign). The rules
they apply live in ``zingd/services``; these only decide when."""
