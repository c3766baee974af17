"""`kiosk sync`: send the outbox to the hub — once (drain and exit) or as a foreground worker."""
from __future__ import annotations

import argparse
import json
import sys

from kiosk.config import Config


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser("sync", parents=[common], help="sync the outbox to the hub")
    parser.add_argument("--once", action="store_true", help="drain what is pending now, print a report and exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    from kiosk.services.submissions import open_outbox
    from kiosk.services.sync import HubClient, Syncer, SyncWorker

    with open_outbox(config) as store:
        if store.key_error:  # rows this key cannot read: sending nothing beats quarantining everything
            raise store.key_error
        client = HubClient.from_config(config.hub)
        syncer = Syncer(store, client, config.outbox.batch_size)
        try:
            if args.once:
                store.release_sending()  # only safe because a one-shot CLI sync is the only sender
                report = syncer.drain()
                out = {**report.to_json(), "status": store.status().to_json()}
                print(json.dumps(out, ensure_ascii=False))
                if report.config_error:
                    print(f"kiosk sync: sync paused: {report.config_error}", file=sys.stderr)
                elif report.local_quarantined:
                    print(f"kiosk sync: {report.local_quarantined} row(s) could not be read locally and were "
                          "quarantined (see `kiosk outbox list --state quarantined`)", file=sys.stderr)
                return 1 if report.error else 0
            worker = SyncWorker(syncer, config.outbox.backoff_base_s, config.outbox.backoff_cap_s,
                                on_status=lambda s: print(json.dumps({
                                    "online": s.online, "pending": s.pending, "quarantined": s.quarantined,
                                    "oldest_pending_age_s": s.oldest_pending_age_s, "last_error": s.last_error,
                                    "last_sync_at": s.last_sync_at, "config_error": s.config_error}), flush=True))
            worker.start()
            try:
                while worker.is_alive():
                    worker.join(1.0)
            except KeyboardInterrupt:
                print("kiosk sync: stopping", file=sys.stderr)
            finally:
                worker.stop()
            return 0
        finally:
            client.close()
