"""unionpay channel protocol (see protocol.py and notification.py)."""
