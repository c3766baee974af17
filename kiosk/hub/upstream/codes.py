"""The platform's code tables → the Chinese names residents see (they never see a raw code).

Values follow the national baseline dictionaries of the 医疗保障信息平台 (险种类型 INSUTYPE,
人员参保状态 PSN_INSU_STAS, 性别 GEND = GB/T 2261.1, 民族 NATY = GB/T 3304). 人员类别 PSN_TYPE
is refined by each province; the table holds the common national categories and anything else
is shown as 其他人员类别 (the clerk still has the code). One lookup, `name()`, never raises.
"""
from __future__ import annotations

from drivers.idcard.text import NATION_BY_CODE

INSUTYPE = {
    "310": "职工基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "350": "一至六级残疾军人医疗补助",
    "360": "老红军医疗保障",
    "370": "企业补充医疗保险",
    "380": "新型农村合作医疗",
    "390": "城乡居民基本医疗保险",
    "391": "城镇居民基本医疗保险",
    "392": "城乡居民大病医疗保险",
    "399": "其他特殊人员医疗保障",
    "410": "长期照护保险",
    "510": "生育保险",
}
# The short label the kiosk's record screen has always shown (RecordOut.insurance_type).
INSUTYPE_SHORT = {"310": "职工", "390": "城乡居民", "391": "城乡居民", "380": "城乡居民"}

PSN_TYPE = {
    "1101": "在职职工",
    "1102": "灵活就业人员",
    "1201": "退休人员",
    "1300": "离休人员",
    "1401": "城乡居民（未成年人）",
    "1402": "城乡居民（成年人）",
    "1403": "城乡居民（老年人）",
    "1500": "在校学生",
}

PSN_INSU_STAS = {"0": "未参保", "1": "正常参保", "2": "暂停参保", "4": "终止参保"}
ENROLLED_STATES = ("1", "2")  # a paused insurance is still an enrolment; a terminated one is not

GEND = {"0": "未知的性别", "1": "男", "2": "女", "9": "未说明的性别"}

NATY = {code: (name if name.endswith(("人士", "其他")) or code == "97" else name + "族")
        for code, name in NATION_BY_CODE.items()}

# 人员证件类型 psn_cert_type for the identities a kiosk reads.
PSN_CERT_TYPE = {"01": "居民身份证", "06": "港澳台居民居住证", "07": "外国人永久居留身份证"}

# 就诊凭证类型 mdtrt_cert_type of 1101.
MDTRT_CERT_TYPE = {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"}

# 医保区划 (admdvs) → province, by its first two digits (GB/T 2260).
PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区", "21": "辽宁省", "22": "吉林省",
    "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省",
    "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省",
    "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区", "81": "香港特别行政区", "82": "澳门特别行政区",
    "83": "台湾地区",
}

TABLES = {"insutype": INSUTYPE, "psn_type": PSN_TYPE, "psn_insu_stas": PSN_INSU_STAS, "gend": GEND, "naty": NATY,
          "psn_cert_type": PSN_CERT_TYPE, "mdtrt_cert_type": MDTRT_CERT_TYPE}
_UNKNOWN = {"insutype": "其他医疗保障", "psn_type": "其他人员类别", "psn_insu_stas": "参保状态不明",
            "gend": "未说明的性别", "naty": "其他", "psn_cert_type": "其他证件", "mdtrt_cert_type": "其他凭证"}


def name(table: str, code: object) -> str:
    """The Chinese name of `code` in `table` ("insutype", "psn_type", …); unknown → a plain
    Chinese fallback, never the raw code."""
    text = "" if code is None else str(code).strip()
    return TABLES[table].get(text) or _UNKNOWN[table]


def insutype_short(code: object) -> str:
    text = "" if code is None else str(code).strip()
    return INSUTYPE_SHORT.get(text) or name("insutype", text)


def region_name(admdvs: object) -> str:
    text = "" if admdvs is None else str(admdvs).strip()
    return PROVINCES.get(text[:2], "未知地区")
