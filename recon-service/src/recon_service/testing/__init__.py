"""Test support of recon-service: statement files built in the channels' real layouts."""
