"""recon-service: Statements, reconciliation runs, discrepancies, adjustments."""
