"""The service hall on the LAN (issue 17): one queue for kiosk, counters and lobby; today's
applications for the counter; browser pages for counter, lobby and rating pad.

store.py    hall tables (applications sealed with AES-GCM, staff, sessions, audit, ratings)
service.py  what the hall does (issue, call, finish, rate, lobby) over QueueService + HallStore
report.py   what the hall tells the hub, through its own outbox
app.py      FastAPI routes and Jinja2 pages; server.py runs it (foreground or a thread)
"""
