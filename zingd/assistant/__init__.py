"""The assistant: language models on any OpenAI-compatible server, for a bot that answers customers
and hands over, a copilot in the agent's composer, a knowledge base and voice-note transcripts.

``hub.Assistant`` is the one door to the models (settings, limits, accounting); ``provider`` speaks
the protocol; the workers (bot, transcriber, summaries) and the RPC methods go through the hub.
"""
