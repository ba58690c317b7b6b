"""The daemon's long-running loops, each built by the Daemon (``app.py``) from the parts it uses: the
outbox (one sender per number), the campaign runner (one task per running campaign), the
schedule dispatcher, the webhook deliverer and the maintenance jobs (auto-close, event pruning). The rules
they apply live in ``zingd/services``; these only decide when."""
