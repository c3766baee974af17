"""医保自助 Kiosk: the touchscreen application and its command line."""

__version__ = "0.1.0"
