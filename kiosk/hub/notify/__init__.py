"""Progress notices back to residents (issue 18, "close the loop"): when the back office sets an
application to 办结 or 退回补正, an SMS tells the resident — with the masked name, the service
and what to do, never the note, the ID number or the phone in clear anywhere but the request
to the gateway.

sender.py     the pluggable sender: SmsSender protocol, FileSender (demo/tests), AliyunSmsSender
              (the Dysmsapi SendSms RPC API with HMAC-SHA1 request signatures)
simulator.py  a faithful SMS gateway simulator speaking that protocol (records what it accepts)
worker.py     the queue (notify_queue, filled in the state change's transaction) and its sender thread
"""
