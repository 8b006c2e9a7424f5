"""One package per channel: its wire format as the channel speaks it (docs/channel-formats.md),
its HTTP API and its `SandboxChannel` descriptor (``<code>/channel.py``, found by
`channel_sandbox.registry` by listing this package; ``base`` is the neutral vocabulary).

Each package's ``__init__`` builds and signs what the channel sends (notifications, API
answers) and checks what the merchant sends it (request signatures), from the published
format, with the neutral primitives of `otd_shared.channel_wire` only. Nothing here is shared
with the gateway's verifiers: a wrong field order, charset or yuan rounding on either side
fails against the other side and against the golden vectors (payment-gateway/tests/vectors/).

`read_notification` in each package is the merchant's reading of a notification, used by the
sandbox's own test kit (`channel_sandbox.testing`), never by the app.
"""
