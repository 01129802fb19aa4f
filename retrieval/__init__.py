"""Sanad's engine: Arabic articles in, cited passages and answers out. No Telegram here."""
