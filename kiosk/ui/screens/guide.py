"""办事指南 (一次性告知): one screen before a service starts that tells the resident everything at
once — who can apply, what to bring, the time limit, where the result comes from, a filled
sample — so nobody makes a second trip. Spoken in voice mode; the materials print on the ticket.

For an information service (kind = "info": 医保电子凭证激活, 参保缴费, 大病保险) the guide is the
service: step-by-step help with QR codes from config [signage.qr], and an optional 取号 for help
at a counter. Nothing on this screen is personal data.
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QTextBrowser, QVBoxLayout

from kiosk.services.forms import FormSpec
from kiosk.services.signage import Signage, qr_png
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import Screen, button, label
from kiosk.ui.theme import Metrics

register_strings({
    "guide.heading": ("办事指南：{title}", "Service guide: {title}"),
    "guide.who": ("谁可以办", "Who can apply"),
    "guide.materials": ("请带齐材料", "Bring these"),
    "guide.time": ("办理时限", "Time limit"),
    "guide.result": ("结果获取", "The result"),
    "guide.sample": ("填写示例", "Filled sample"),
    "guide.steps": ("怎么办", "How to do it"),
    "guide.start": ("开始填写 ›", "Start ›"),
    "guide.skip": ("跳过指南", "Skip guides"),
    "guide.ticket": ("取号，到窗口帮办", "Take a number for help"),
    "guide.ready_hint": ("材料已在身边，请点“开始填写”；缺少材料也可先提交，窗口会告诉您如何补齐",
                         "If you have these with you, tap Start; if something is missing you can still apply and the counter will tell you how to complete it"),
    "guide.info_hint": ("用手机扫码即可自助办理；需要帮助请取号到窗口", "Scan with your phone to do it yourself; for help take a number for the counter"),
    "guide.spoken_start": ("请点开始填写", "Tap Start when ready"),
    "guide.spoken_ticket": ("需要帮助请点取号", "Tap the number button for help at a counter"),
})


class GuideScreen(Screen):
    name = "guide"
    start_clicked = Signal()
    skip_clicked = Signal()  # 跳过指南: start now, and no guide again in this visit
    back_clicked = Signal()
    ticket_clicked = Signal()  # information services: a number for help at a counter

    def __init__(self, metrics: Metrics, signage: Signage | None = None) -> None:
        super().__init__(metrics)
        self.form: FormSpec | None = None
        self.skip_all = False  # 跳过指南: no more guides in this visit (forgotten at sign-out)
        self.signage = signage or Signage()
        self._qr_cache: dict[str, bytes] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(4), metrics.mm(10), metrics.mm(4))
        self.heading = label(role="title")
        self.heading.setObjectName("guide_heading")
        self.hint = label(role="hint")
        outer.addWidget(self.heading)
        outer.addWidget(self.hint)
        self.browser = QTextBrowser()  # wraps and scrolls long guides on any panel; no links to follow
        self.browser.setObjectName("guide_text")
        self.browser.setOpenLinks(False)
        self.browser.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.browser.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        outer.addWidget(self.browser, 1)
        buttons = QHBoxLayout()
        self.back = button(name="guide_back")
        self.skip = button(name="guide_skip")
        self.start = button(role="primary", name="guide_start")
        self.ticket = button(role="primary", name="guide_ticket")
        buttons.addWidget(self.back)
        buttons.addStretch(1)
        buttons.addWidget(self.skip)
        buttons.addWidget(self.start)
        buttons.addWidget(self.ticket)
        outer.addLayout(buttons)
        self.back.clicked.connect(self.back_clicked)
        self.skip.clicked.connect(self.skip_clicked)
        self.start.clicked.connect(self.start_clicked)
        self.ticket.clicked.connect(self.ticket_clicked)
        self._fill()

    def set_signage(self, signage: Signage) -> None:
        self.signage = signage
        self._qr_cache.clear()
        self._fill()

    def show_guide(self, form: FormSpec) -> None:
        self.form = form
        self._fill()
        self.browser.verticalScrollBar().setValue(0)

    # -- content ------------------------------------------------------------------------------
    def rows(self, lang: str) -> list[tuple[str, str, str]]:
        """(key, caption, text) per section of the guide in `lang`, placeholders filled."""
        form = self.form
        if form is None or form.guide is None:
            return []
        g, fill = form.guide, self.signage.fill
        rows: list[tuple[str, str, str]] = []
        if g.steps:
            rows.append(("steps", tr("guide.steps"), "\n".join(fill(s.get(lang)) for s in g.steps)))
        rows.append(("materials", tr("guide.materials"), "\n".join("☐ " + fill(m.get(lang)) for m in g.materials)))
        rows.append(("who", tr("guide.who"), fill(g.who.get(lang))))
        rows.append(("time", tr("guide.time"), g.time_limit(lang)))
        rows.append(("result", tr("guide.result"), fill(g.result.get(lang))))
        if g.sample:
            rows.append(("sample", tr("guide.sample"), "\n".join(fill(s.get(lang)) for s in g.sample)))
        return rows

    def html(self, lang: str) -> str:
        """The guide as rich text: a caption per section, the checklist, then the QR codes."""
        form = self.form
        if form is None or form.guide is None:
            return ""
        m = self.metrics
        big, line = round(m.body_px * 1.15), "130%" if m.elderly else "120%"
        parts = []
        for key, caption, text in self.rows(lang):
            weight = "bold" if key in ("materials", "steps") else "normal"
            lines = "<br>".join(escape(t) for t in text.split("\n"))
            parts.append(f'<p style="margin-top:{m.mm(2)}px; margin-bottom:0px;"><span style="font-weight:bold;">{escape(caption)}</span></p>'
                         f'<p style="margin-top:0px; line-height:{line}; font-size:{big if weight == "bold" else m.body_px}px; '
                         f'font-weight:{weight};">{lines}</p>')
        cells = []
        side = m.mm(34 if m.elderly else 30)
        for ref in form.guide.qr:
            url = self.signage.qr.get(ref.key)
            if not url:
                continue  # a key without a URL in config: no dead code on screen
            if url not in self._qr_cache:
                self._qr_cache[url] = qr_png(url)
            image = QImage.fromData(self._qr_cache[url])
            name = f"qr-{ref.key}"
            self.browser.document().addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
            cells.append(f'<td align="center" style="padding-right:{m.mm(6)}px;"><img src="{name}" width="{side}" height="{side}"><br>'
                         f'{escape(ref.label.get(lang))}</td>')
        if cells:  # an information service's QR codes follow its steps (they are the service)
            table = f'<table style="margin-top:{m.mm(3)}px; margin-bottom:{m.mm(2)}px;"><tr>{"".join(cells)}</tr></table>'
            parts.insert(1 if form.info and form.guide.steps else len(parts), table)
        return "".join(parts)

    def _fill(self) -> None:
        form = self.form
        info = form is not None and form.info
        lang = language()
        self.heading.setText(tr("guide.heading", title=form.title.get(lang)) if form else "")
        self.hint.setText(tr("guide.info_hint") if info else tr("guide.ready_hint"))
        self.browser.setHtml(self.html(lang))
        self.start.setVisible(form is not None and not info)
        self.skip.setVisible(form is not None and not info)
        self.ticket.setVisible(info and form is not None and form.ticket)
        self.back.setText("‹ " + tr("common.back"))
        self.skip.setText(tr("guide.skip"))
        self.start.setText(tr("guide.start"))
        self.ticket.setText(tr("guide.ticket"))

    def text(self) -> str:
        """What the guide says, as plain text (tests, and what the voice reads)."""
        return self.browser.toPlainText()

    # -- Screen ---------------------------------------------------------------------------------
    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        self._fill()

    def retranslate(self) -> None:
        self._fill()

    def reset(self) -> None:
        self.form = None
        self.skip_all = False
        self._fill()

    def spoken_prompt(self) -> str:
        """The whole guide, read out in voice mode (no personal data: it is the service's text)."""
        form = self.form
        if form is None:
            return ""
        lang = language()
        parts = [tr("guide.heading", title=form.title.get(lang))]
        parts += [f"{caption}：{text}" if lang == "zh_CN" else f"{caption}: {text}"
                  for key, caption, text in self.rows(lang) if key != "sample"]
        parts.append(tr("guide.spoken_ticket") if form.info else tr("guide.spoken_start"))
        text = "。".join(p.replace("\n", "，").replace("☐ ", "") for p in parts) if lang == "zh_CN" else \
            ". ".join(p.replace("\n", ", ").replace("☐ ", "") for p in parts)
        return text

