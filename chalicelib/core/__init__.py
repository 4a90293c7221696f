"""The functional core: models, events, planning rules and phase transitions. No I/O here."""
