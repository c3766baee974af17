"""The bureau's console on the hub (issue 18): staff accounts and sessions, kiosk heartbeats and
the fleet, figures, the back office's application states, and the server-rendered pages.
Mounted into the hub's FastAPI app by `kiosk.hub.console.routes.mount_console`."""
