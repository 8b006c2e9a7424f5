"""Payment channel adapters: one package per channel, plus the shared protocol layer.

* `contract`: ChannelProtocol, VerifiedNotification, answers.
* `registry`: channel code → ChannelProtocol built from a ChannelKeySet.
* `keys`: the var/keys/<channel>/ dev key layout (docs/channel-formats.md §0).
* `errors`: CallbackRejected and friends.
* `money_edge`, `payment_code`, `wire`, `rsa_signing`: shared edge helpers.
* `<channel>/protocol.py`: the channel's wire format, our side only (we verify what the
  channel signs, sign what we send); `<channel>/notification.py`: its ChannelProtocol.

The channel's side (signing notifications and answers, checking our signatures) is never here:
the channel sandbox plays it, and tests take genuine notifications from it, from the golden
vectors (tests/vectors) or from the channels' SDKs.
"""
