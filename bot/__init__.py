"""Sanad's edges: the `sanad` command line and the Telegram bot."""
