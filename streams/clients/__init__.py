"""Client tools' logic: a patrol unit's cases, an operator's broadcast, recorded records for replay."""
