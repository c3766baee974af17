"""The hub's side of the provincial 医保信息平台 (《医疗保障信息平台定点医药机构接口规范》).

envelope.py      the common envelope and the msgid sequence (pure)
transactions.py  1101 人员信息获取, 5301 人员慢特病备案查询, 电子凭证 ec.query (pure)
codes.py         code tables → the Chinese names residents see
signing.py       the pluggable request signer (HMAC-SHA256 implementation) and its key file
errors.py        infcode and transport failures → one exception with resident/clerk messages
client.py        HTTP (httpx): timeouts, retries for queries only, an audit line per attempt
service.py       what the hub asks for: the record, filed diseases, an e-voucher's holder
setup.py         `[upstream]` config → a ready PlatformService
population.py    simulator.py   the platform simulator (`kiosk hub platform-sim`) and its residents
"""
