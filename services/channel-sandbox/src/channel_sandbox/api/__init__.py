"""HTTP entrypoints: one router per channel API, the control API, SAP, probes."""
