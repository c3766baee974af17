"""Receipt layouts as data: one TOML file per layout (see `kiosk.ocr.extract.load_templates`)."""
