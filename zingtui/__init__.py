"""zingtui: the agents' console for zing, a Textual app that speaks to zingd only over RPC."""
