"""Notifications: outgoing webhooks with their deliveries, and the inbox and email."""
