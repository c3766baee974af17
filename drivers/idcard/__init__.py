"""Resident ID card reader (SAM protocol over serial): codec, card text, reader, simulator.

`protocol` and `text` are pure; `reader` does I/O on whichever thread calls it (the app gives it
one device thread); `simulator` is a device on the far end of a pty or loopback socket.
"""
