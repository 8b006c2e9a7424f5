"""One module per channel: its wire format as the channel speaks it (docs/channel-formats.md).

Each module builds and signs what the channel sends (notifications, API answers) and checks
what the merchant sends it (request signatures), from the published format, with the neutral
primitives of `otd_shared.channel_wire` only. Nothing here is shared with the gateway's
verifiers: a wrong field order, charset or yuan rounding on either side fails against the other
side and against the golden vectors (payment-gateway/tests/vectors/).

`read_notification` in each module is the merchant's reading of a notification, used by the
sandbox's own test kit (`channel_sandbox.testing`), never by the app.
"""
