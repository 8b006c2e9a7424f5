"""Payment channel adapters: one package per channel, plus the shared protocol layer.

* `contract`: ChannelProtocol, VerifiedNotification, NotificationEvent, answers.
* `registry`: channel code → ChannelProtocol built from a ChannelKeySet.
* `keys`: the var/keys/<channel>/ dev key layout (docs/channel-formats.md §0).
* `errors`: CallbackRejected and friends.
* `money_edge`, `payment_code`, `wire`, `rsa_signing`: shared edge helpers.
* `<channel>/protocol.py`: the channel's wire format, our side and the channel side;
  `<channel>/notification.py`: its ChannelProtocol implementation.
"""
