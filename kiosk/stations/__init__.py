"""One composition root per station: `resident` (the touchscreen kiosk) and `clerk` (the 零星报销
scan station). Each wires config → devices → services → window and owns the order things start
and stop in; they share one Qt application setup (`kiosk.stations.qt`). Only the CLI
(`kiosk/commands`) imports these modules (tests/test_import_rules.py).
"""
